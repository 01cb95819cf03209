"""Migration findings/7 on both backends: a database made before it (a detail rollup without
titles and package names) gets both columns, filled for every row with its detail document's
title and distinct package names, the counts unchanged; from then on the rows the triggers
(SQLite) or the fold (PostgreSQL) write carry them too (after a status flip of every ACTIVE
finding the rollups still equal a recount)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import delete, inspect, text, update

from dockwatch.storage.sql import pg_rollups, rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.migrations.detail_names import ADDED
from tests.unit.queries import findings_db as fdb
from tests.unit.storage.sql.test_rollup_batches import (
    _COUNTERS,
    _recount,
    _state,
    _stored_carried,
    _stored_counts,
)

from .conftest import BACKENDS, random_findings

_WRITTEN = re.compile(
    r"\(SELECT title FROM finding_details WHERE ref = NEW\.detail_ref\),\s*"
    r"\(SELECT json_group_array\(name\).*?ORDER BY name\)\),\s*",
    re.DOTALL,
)


def _older_triggers() -> list[str]:
    """SQLite's trigger statements as before findings/7: the detail rollup's row without the
    two columns."""
    out = []
    for ddl in rollups.trigger_ddl():
        older, found = _WRITTEN.subn(
            "", ddl.replace("epss_score, title, package_names,", "epss_score,")
        )
        assert found == (0 if "DELETE" in ddl.split("ON findings")[0] else 1)
        out.append(older)
    return out


def _back_to_older(db: Database) -> None:
    """As before findings/7: the detail rollup without its two columns (and on SQLite the
    triggers that did not write them), the record gone."""
    with db.write() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            rollups.drop_triggers(conn)
        for name in ADDED:
            conn.execute(text(f"ALTER TABLE {t.finding_detail_counts.name} DROP COLUMN {name}"))
        if sqlite:
            for ddl in _older_triggers():
                conn.exec_driver_sql(ddl)
        m = t.schema_migrations
        conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number == 7))


def _check(db: Database) -> None:
    """Counts equal a recount, titles and names their documents', for both tenants."""
    for tenant in (fdb.TENANT, fdb.OTHER):
        state = _state(db, tenant.account_id)
        recounted = _recount(state)
        expected = {
            name: {k: v for k, v in counts.items() if k[-1] in _COUNTERS[name]}
            for name, counts in recounted.items()
        }
        assert {n: dict(c) for n, c in _stored_counts(state).items()} == expected
        assert state["rollups"]["finding_detail_counts"]
        assert _stored_carried(state) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_detail_rollup_gets_titles_and_names(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with random_findings(backend, request, tmp_path, 6, 16) as (_built, db):
        _back_to_older(db)
        with db.read() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("finding_detail_counts")}
            assert not set(ADDED) & columns
            assert rollups.enabled(conn)
        applied = migrate(db)
        assert [(a.subsystem, a.number) for a in applied] == [("findings", 7)]
        _check(db)
        with db.write() as conn:  # new rollup rows: every ACTIVE finding's under SUPPRESSED
            f = t.findings
            conn.execute(update(f).where(f.c.status == "ACTIVE").values(status="SUPPRESSED"))
            if backend == "postgresql":
                assert pg_rollups.fold(conn)
        _check(db)
        assert migrate(db) == []
