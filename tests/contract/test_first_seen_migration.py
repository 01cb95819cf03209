"""Migrations findings/13 and /15 on both backends: a database made before the image first-seen
and score rollups gets both tables filled from the findings stored, kept from then on (SQLite's
triggers, made again; PostgreSQL's count log, which gains `first_observed_at`), and the count log
rows written before them (without that column) are folded into the other rollups, none lost:
findings/13's fold leaves out the score table, which does not exist yet, and findings/15 fills
it from the findings."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from sqlalchemy import Connection, delete, inspect, select, text, update

from dockwatch.storage.sql import pg_rollups, rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.migrations import migrate

from .conftest import BACKENDS, random_findings
from .test_first_seen_aggregations import _recount, _spread, _stored
from .test_score_rollup import _recount as _score_recount
from .test_score_rollup import _stored as _score_stored

ADDED = t.finding_image_first_counts
LATER = t.finding_image_score_counts


def _old_sqlite_triggers(conn: Connection) -> None:
    """The triggers as they were: without the statements of the new tables."""
    rollups.drop_triggers(conn)
    for ddl in rollups.trigger_ddl():
        head, body = ddl.split(" BEGIN ", 1)
        statements = body.removesuffix("END").split(";")
        kept = [s for s in statements if ADDED.name not in s and LATER.name not in s]
        conn.exec_driver_sql(f"{head} BEGIN {';'.join(kept)} END")


def _back_to_older(conn: Connection) -> None:
    """The database as it was before findings/13: neither table, the count log and its triggers
    without `first_observed_at`, the records gone."""
    if conn.dialect.name == "postgresql":
        old = tuple(c for c in pg_rollups.LOGGED if c != "first_observed_at")
        with mock.patch.object(pg_rollups, "LOGGED", old):
            pg_rollups.install_triggers(conn)
    else:
        _old_sqlite_triggers(conn)
    conn.execute(text(f"DROP TABLE {ADDED.name}"))
    conn.execute(text(f"DROP TABLE {LATER.name}"))
    conn.execute(text(f"ALTER TABLE {t.finding_count_log.name} DROP COLUMN first_observed_at"))
    m = t.schema_migrations
    conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number.in_((13, 15))))


def _image_counts(conn: Connection) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    for row in conn.execute(select(t.finding_image_counts)):
        m = row._mapping
        key = (m["account_id"], m["region"], m["status"], m["repository_id"], m["digest"])
        for s in t.ROLLUP_SEVERITIES:
            out[(*key, s)] += m[s]
    return +out


def _image_recount(conn: Connection) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    for row in conn.execute(select(t.findings)):
        m = row._mapping
        key = (m["account_id"], m["region"], m["status"], m["repository_id"], m["digest"])
        out[(*key, m["severity"].lower())] += 1
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_older_database_gets_the_tables_filled_and_kept(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with random_findings(backend, request, tmp_path, 5, 20) as (_, db):
        with db.write() as conn:
            _spread(conn, 5)
            if backend == "postgresql":
                pg_rollups.fold(conn, wait=True)
            _back_to_older(conn)
        with db.write() as conn:  # on PostgreSQL left in the log, logged the old way
            f = t.findings
            conn.execute(update(f).where(f.c.severity == "LOW").values(status="SUPPRESSED"))
        applied = migrate(db)
        assert [(a.subsystem, a.number) for a in applied] == [("findings", 13), ("findings", 15)]
        with db.read() as conn:
            assert {ADDED.name, LATER.name} <= set(inspect(conn).get_table_names())
            stored, scores = _stored(conn), _score_stored(conn)
            assert stored and stored == _recount(conn)
            assert scores and scores == _score_recount(conn)
            assert _image_counts(conn) == _image_recount(conn)  # the old log rows folded
        with db.write() as conn:  # kept from then on
            conn.execute(update(f).where(f.c.severity == "HIGH").values(status="CLOSED"))
            conn.execute(delete(f).where(f.c.severity == "MEDIUM"))
            if backend == "postgresql":
                pg_rollups.fold(conn, wait=True)
        with db.read() as conn:
            assert _stored(conn) == _recount(conn)
            assert _score_stored(conn) == _score_recount(conn)
            assert _image_counts(conn) == _image_recount(conn)
        assert migrate(db) == []
