"""PostgreSQL keeps room in the rollup tables' pages (`schema/findings.ROLLUP_FILLFACTOR`): a new
database has it from its tables, an older one gets it from migration findings/18, which
rewrites each table (its rows unchanged) so that the pages it has get the room too."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, delete, select

from dockwatch.storage.sql import pg_rollups, rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.schema.findings import ROLLUP_FILLFACTOR
from tests.unit.storage.sql.test_rollup_inserted import _details, _insert, _rows, _store

from .conftest import empty_database_url


def _options(conn: Connection) -> dict[str, list[str] | None]:
    return {
        x.name: conn.exec_driver_sql(
            "SELECT reloptions FROM pg_class WHERE oid = %s::regclass", (x.name,)
        ).scalar()
        for x in rollups.TABLES
    }


def _files(conn: Connection) -> dict[str, int]:
    """Each rollup table's file: a rewrite gives the table a new one."""
    return {
        x.name: int(conn.exec_driver_sql("SELECT pg_relation_filenode(%s)", (x.name,)).scalar_one())
        for x in rollups.TABLES
    }


def _rows_of(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {x.name: sorted(tuple(r) for r in conn.execute(select(x))) for x in rollups.TABLES}


def _forget_findings_18(conn: Connection) -> None:
    m = t.schema_migrations
    conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number == 18))


def test_rollup_tables_made_from_the_schema_keep_room(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """As the baseline and the migrations that make rollup tables make them, findings/18 aside."""
    empty = Database(empty_database_url("postgresql", request, tmp_path))
    try:
        with empty.write() as conn:
            t.metadata.create_all(conn, tables=list(rollups.TABLES))
            options = _options(conn)
    finally:
        empty.close()
    assert set(options) == {x.name for x in rollups.TABLES}
    assert all(o == [f"fillfactor={ROLLUP_FILLFACTOR}"] for o in options.values()), options


def test_findings_18_gives_room_to_older_rollup_tables_and_keeps_their_rows(
    pg: Database,
) -> None:
    rng = random.Random(3)
    details = _details(rng)
    with pg.write() as conn:
        _store(conn, details)
        _insert(conn, _rows(rng, details, 300, 0))
    with pg.write() as conn:
        pg_rollups.fold(conn, wait=True)  # the count log's rows into the tables
    with pg.write() as conn:  # the tables as a database from before findings/18 has them
        for x in rollups.TABLES:
            conn.exec_driver_sql(f"ALTER TABLE {x.name} RESET (fillfactor)")
        _forget_findings_18(conn)
    with pg.read() as conn:
        assert all(o is None for o in _options(conn).values())
        rows, files = _rows_of(conn), _files(conn)
    assert sum(len(r) for r in rows.values()) > 100

    applied = migrate(pg)

    assert [(m.subsystem, m.number) for m in applied] == [("findings", 18)]
    with pg.read() as conn:
        assert all(o == [f"fillfactor={ROLLUP_FILLFACTOR}"] for o in _options(conn).values())
        assert _rows_of(conn) == rows
        rewritten = _files(conn)
    assert all(rewritten[name] != files[name] for name in files)


def test_findings_18_leaves_tables_that_have_the_room_alone(pg: Database) -> None:
    with pg.write() as conn:
        _forget_findings_18(conn)
    with pg.read() as conn:
        files = _files(conn)

    assert [(m.subsystem, m.number) for m in migrate(pg)] == [("findings", 18)]

    with pg.read() as conn:
        assert _files(conn) == files
