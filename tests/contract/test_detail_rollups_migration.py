"""Migration findings/4 on both backends: a database made before the detail and image fix
rollups gets both tables; on SQLite they are filled from the findings stored and kept by the
triggers from then on (equal to a recount of the findings after a status flip)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, delete, inspect, select, text, update

from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from tests.unit.queries import findings_db as fdb

from .conftest import BACKENDS, empty_database_url

ADDED = (t.finding_detail_counts, t.finding_image_fix_counts)
_KEYS = {
    "finding_detail_counts": ("detail_ref", "vulnerability_id", "fix_available",
                              "exploit_available", "source", "inspector_score", "epss_score"),
    "finding_image_fix_counts": ("repository_id", "digest", "fix_available", "exploit_available"),
}  # fmt: skip


def _recount(conn: Connection, name: str) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    for r in conn.execute(select(t.findings)):
        m = r._mapping
        key = (m["account_id"], m["region"], m["status"], *[m[k] for k in _KEYS[name]])
        out[(*key, m["severity"].lower())] += 1
    return out


def _stored(conn: Connection, name: str) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    for r in conn.execute(select(t.metadata.tables[name])):
        m = r._mapping
        key = (m["account_id"], m["region"], m["status"], *[m[k] for k in _KEYS[name]])
        for s in t.ROLLUP_SEVERITIES:
            if m[s]:
                out[(*key, s)] += m[s]
    return out


def _back_to_older(db: Database) -> None:
    """The database as it was before findings/4: neither table, its record gone."""
    with db.write() as conn:
        for table in ADDED:
            conn.execute(text(f"DROP TABLE {table.name}"))
        m = t.schema_migrations
        conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number == 4))


def test_sqlite_tables_filled_and_kept(tmp_path: Path) -> None:
    built = fdb.build_db(tmp_path / "f.db", 3, images=12)
    db = built.db
    try:
        _back_to_older(db)
        applied = migrate(db)
        assert [(a.subsystem, a.number) for a in applied] == [("findings", 4)]
        with db.read() as conn:
            for table in ADDED:
                assert _stored(conn, table.name) == _recount(conn, table.name), table.name
                assert _stored(conn, table.name)
        with db.write() as conn:  # the triggers count a flip of every ACTIVE finding
            f = t.findings
            conn.execute(update(f).where(f.c.status == "ACTIVE").values(status="SUPPRESSED"))
        with db.read() as conn:
            for table in ADDED:
                assert _stored(conn, table.name) == _recount(conn, table.name), table.name
    finally:
        db.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_older_database_gets_the_tables(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = empty_database_url(backend, request, tmp_path, "old.db")
    db = Database(url)
    try:
        migrate(db)
        _back_to_older(db)
        applied = migrate(db)
        assert [(a.subsystem, a.number) for a in applied] == [("findings", 4)]
        with db.read() as conn:
            names = set(inspect(conn).get_table_names())
        assert {table.name for table in ADDED} <= names
        assert migrate(db) == []
    finally:
        db.close()
