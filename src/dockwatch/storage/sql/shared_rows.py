"""Rows that concurrent writers may both add: an INSERT that leaves a key another stored first.

On PostgreSQL writers run side by side: the requests of one API process on their threads, and
the API and worker processes of a cluster. "Read whether the key is stored, insert it if not"
lets two of them insert the same key (a base layer uploaded to two repositories at once, the
first layers pushed into a new repository, one finding detail written by two scans): the second
INSERT waits for the first writer's commit, then fails with a unique violation, which was a 500
for the upload and a failed job for the scan. `INSERT ... ON CONFLICT DO NOTHING` waits the same
way and then leaves the row (`add_missing`, for rows whose key names their content); `ON
CONFLICT DO UPDATE` makes the later writer's values the row's (`put_row`, for a key whose value
moves: an image's inventory, an event cursor). Callers insert keys in sorted order, so two
writers never wait for each other crosswise.

SQLite runs one writer at a time (`BEGIN IMMEDIATE`, `engine.py`); the statements are the same
there, so both backends run one code path. Each dialect's `insert` is imported where it runs: a
server never loads the other database's dialect (`tests/unit/cli/test_startup.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table


def dialect_insert(conn: Connection, table: Table) -> Any:
    """The dialect's own INSERT of `table`, which has `on_conflict_*`."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def add_missing(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: Sequence[str]
) -> None:
    """Insert `rows` (sorted by `key` by the caller), leaving those whose `key` is stored."""
    if rows:
        conn.execute(dialect_insert(conn, table).on_conflict_do_nothing(index_elements=key), rows)


def add_missing_returning(
    conn: Connection, table: Table, row: Mapping[str, Any], key: Sequence[str], column: Column[Any]
) -> Any | None:
    """Insert one `row` unless its `key` is stored: `column` of the row inserted, or None when
    another writer's row holds the key."""
    stmt = dialect_insert(conn, table).values(**row).on_conflict_do_nothing(index_elements=key)
    return conn.execute(stmt.returning(column)).scalar()


def put_row(conn: Connection, table: Table, row: Mapping[str, Any], key: Sequence[str]) -> None:
    """Insert `row`, or set the stored row of its `key` to the row's other values."""
    stmt = dialect_insert(conn, table).values(**row)
    changed = {name: stmt.excluded[name] for name in row if name not in key}
    conn.execute(stmt.on_conflict_do_update(index_elements=key, set_=changed))
