"""Migration findings/12 on both backends: a database made before it (the layer rollup keyed by
image and layer only) gets the rollup keyed by fix and exploit availability too, counted from
the findings stored (equal to a recount in plain Python), kept from then on (after a status
flip of every ACTIVE finding) and answering IMAGE_LAYER with fix and exploit criteria as a
recount does. A database that has the key already (its baseline made it) keeps its rows; on
SQLite a rowid layer rollup older than findings/9 is counted again by that migration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    func,
    inspect,
    select,
    text,
    update,
)

from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from tests.unit.queries import findings_db as fdb
from tests.unit.storage.sql.test_rollup_batches import _COUNTERS, _recount, _state, _stored_counts

from .conftest import BACKENDS, random_findings
from .test_layer_fix_aggregations import CASES, _answered
from .test_layer_fix_aggregations import _recount as _recount_layers

LAYERS = t.finding_layer_counts
OLD_KEY = ("account_id", "region", "status", "repository_id", "digest", "layer_hash")


def _old_table(with_rowid: bool) -> Table:
    """`finding_layer_counts` as it was before findings/12."""
    return Table(
        LAYERS.name,
        MetaData(),
        Column("account_id", String(12), nullable=False),
        Column("region", String(32), nullable=False),
        Column("status", String(16), nullable=False),
        Column("repository_id", Integer, nullable=False),
        Column("digest", String(140), nullable=False),
        Column("layer_hash", String(140), nullable=False),
        Column("repository_name", String(256), nullable=False),
        *[Column(s, Integer, nullable=False) for s in t.ROLLUP_SEVERITIES],
        PrimaryKeyConstraint(*OLD_KEY),
        sqlite_with_rowid=with_rowid,
    )


def _back_to_older(db: Database, *, numbers: tuple[int, ...] = (12,)) -> None:
    """The layer rollup as before findings/12 (rowid on SQLite as before findings/9 when 9 is
    among `numbers`), holding the same counts summed per (image, layer); the records gone."""
    old = _old_table(with_rowid=9 in numbers)
    with db.write() as conn:
        key = [LAYERS.c[k] for k in OLD_KEY]
        sums = [func.sum(LAYERS.c[s]).label(s) for s in t.ROLLUP_SEVERITIES]
        name = func.max(LAYERS.c.repository_name).label("repository_name")
        rows = [dict(r._mapping) for r in conn.execute(select(*key, name, *sums).group_by(*key))]
        LAYERS.drop(conn)
        old.create(conn)
        if rows:
            conn.execute(old.insert(), rows)
        m = t.schema_migrations
        conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number.in_(numbers)))


def _columns(db: Database) -> list[str]:
    with db.read() as conn:
        return [c["name"] for c in inspect(conn).get_columns(LAYERS.name)]


def _check_counts(db: Database) -> None:
    """Every rollup equals a recount of the findings."""
    state = _state(db, fdb.TENANT.account_id)
    recounted = _recount(state)
    for name, counts in _stored_counts(state).items():
        expected = {k: v for k, v in recounted[name].items() if k[-1] in _COUNTERS[name]}
        assert dict(counts) == expected, name


def _check_answers(db: Database, findings: list[dict[str, Any]]) -> None:
    for criteria, keep in CASES:
        assert _answered(db, criteria) == _recount_layers(findings, keep), criteria


def _flip_active(db: Database, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    f = t.findings
    with db.write() as conn:
        conn.execute(update(f).where(f.c.status == "ACTIVE").values(status="SUPPRESSED"))
    return [
        dict(x, status="SUPPRESSED") if x["status"] == "ACTIVE" else x for x in findings
    ]  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_older_layer_rollup_is_keyed_and_counted_again(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with random_findings(backend, request, tmp_path, 13, 24) as (built, db):
        _back_to_older(db)
        assert "fix_available" not in _columns(db)

        applied = migrate(db)

        assert [(a.subsystem, a.number) for a in applied] == [("findings", 12)]
        assert {"fix_available", "exploit_available"} <= set(_columns(db))
        _check_counts(db)
        findings = list(built.shaped.values())
        _check_answers(db, findings)
        _check_answers(db, _flip_active(db, findings))  # kept by triggers / the count log
        _check_counts(db)
        assert migrate(db) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_with_the_key_keeps_its_rows(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with random_findings(backend, request, tmp_path, 13, 24) as (_built, db):
        with db.write() as conn:
            before = sorted(tuple(r) for r in conn.execute(select(LAYERS)))
            m = t.schema_migrations
            conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number == 12))
        assert before

        applied = migrate(db)

        assert [(a.subsystem, a.number) for a in applied] == [("findings", 12)]
        with db.read() as conn:
            assert sorted(tuple(r) for r in conn.execute(select(LAYERS))) == before


def _ddl(conn: Connection) -> str:
    return str(
        conn.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :n"),
            {"n": LAYERS.name},
        ).scalar_one()
    )


def test_sqlite_rowid_layer_rollup_from_before_findings_9(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with random_findings("sqlite", request, tmp_path, 13, 24) as (built, db):
        _back_to_older(db, numbers=(9, 12))
        with db.read() as conn:
            assert "WITHOUT ROWID" not in _ddl(conn).upper()

        applied = migrate(db)

        assert [(a.subsystem, a.number) for a in applied] == [("findings", 9), ("findings", 12)]
        with db.read() as conn:
            assert "WITHOUT ROWID" in _ddl(conn).upper()
        _check_counts(db)
        _check_answers(db, list(built.shaped.values()))
