"""Migration findings/5 on both backends: a database made before it gets the covering indexes
of the detail rollups' joins (package names, titles); on SQLite its two detail rollups become
WITHOUT ROWID tables holding the same counts, which the triggers keep from then on (equal to a
recount of the findings after a status flip)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
from sqlalchemy import Connection, Table, delete, inspect, text, update
from sqlalchemy.schema import CreateTable

from dockwatch.storage.sql import rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from tests.unit.queries import findings_db as fdb

from .conftest import BACKENDS, empty_database_url
from .test_detail_rollups_migration import ADDED, _recount, _stored

INDEXES = {
    "detail_packages": "ix_detail_packages_detail_name",
    "finding_details": "ix_finding_details_title",
}


def with_rowid(conn: Connection, rollup_tables: Iterable[Table] = ADDED) -> None:
    """SQLite: rollups as rowid tables, as findings/4 made them (by default the two detail
    rollups), rows kept; the triggers made again."""
    rollups.drop_triggers(conn)
    for table in rollup_tables:
        ddl = str(CreateTable(table).compile(dialect=conn.dialect))
        assert "WITHOUT ROWID" in ddl
        conn.execute(text(f"ALTER TABLE {table.name} RENAME TO old_{table.name}"))
        conn.execute(text(ddl.replace("WITHOUT ROWID", "")))
        conn.execute(text(f"INSERT INTO {table.name} SELECT * FROM old_{table.name}"))
        conn.execute(text(f"DROP TABLE old_{table.name}"))
    rollups.install_triggers(conn)


def _back_to_older(db: Database) -> None:
    """The database as it was before findings/5: no covering indexes, its record gone."""
    with db.write() as conn:
        for name in INDEXES.values():
            conn.execute(text(f"DROP INDEX {name}"))
        if conn.dialect.name == "sqlite":
            with_rowid(conn)
        m = t.schema_migrations
        conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number == 5))


def _without_rowid(conn: Connection) -> dict[str, bool]:
    return {
        table.name: "WITHOUT ROWID"
        in conn.execute(
            text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": table.name}
        ).scalar_one()
        for table in ADDED
    }


def _indexes(conn: Connection) -> set[str]:
    names = {str(i["name"]) for table in INDEXES for i in inspect(conn).get_indexes(table)}
    return names & set(INDEXES.values())


def test_sqlite_rollups_keep_their_counts(tmp_path: Path) -> None:
    built = fdb.build_db(tmp_path / "f.db", 3, images=12)
    db = built.db
    try:
        _back_to_older(db)
        with db.read() as conn:
            assert _without_rowid(conn) == dict.fromkeys(_without_rowid(conn), False)
            assert _indexes(conn) == set()
            before = {table.name: _stored(conn, table.name) for table in ADDED}
            assert all(before.values())
        applied = migrate(db)
        assert [(a.subsystem, a.number) for a in applied] == [("findings", 5)]
        with db.read() as conn:
            assert all(_without_rowid(conn).values())
            assert _indexes(conn) == set(INDEXES.values())
            assert rollups.enabled(conn)
            for table in ADDED:
                assert _stored(conn, table.name) == before[table.name], table.name
                assert _stored(conn, table.name) == _recount(conn, table.name), table.name
        with db.write() as conn:  # the triggers count a flip of every ACTIVE finding
            f = t.findings
            conn.execute(update(f).where(f.c.status == "ACTIVE").values(status="SUPPRESSED"))
        with db.read() as conn:
            for table in ADDED:
                assert _stored(conn, table.name) == _recount(conn, table.name), table.name
    finally:
        db.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_older_database_gets_the_indexes(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = empty_database_url(backend, request, tmp_path, "old.db")
    db = Database(url)
    try:
        migrate(db)
        _back_to_older(db)
        applied = migrate(db)
        assert [(a.subsystem, a.number) for a in applied] == [("findings", 5)]
        with db.read() as conn:
            assert _indexes(conn) == set(INDEXES.values())
            if backend == "sqlite":
                assert all(_without_rowid(conn).values())
        assert migrate(db) == []
    finally:
        db.close()
