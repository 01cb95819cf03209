"""Rollups counted once per batch of finding writes, instead of once per row by the triggers.

The triggers of `rollups.py` cost about 21 us per finding written (four upserts, each reading
the finding's detail). A batch writer (a feed delta re-evaluating 100,000 images) instead:

1. loads the ids it is about to write into a temporary table,
2. subtracts what those rows count now (one grouped statement per rollup table; nothing for
   rows not yet inserted) and deletes the rollup rows that reach zero,
3. writes its rows with the triggers standing aside (a row in `finding_rollup_deferrals`,
   deleted again before the block ends, so nothing outside the block sees it),
4. adds what the rows count after the write (the same grouped statements).

The counts end exactly where the per-row triggers would have put them (the property test
`tests/unit/storage/test_rollup_batches.py` compares both). Small batches keep the triggers:
the four grouped statements cost more than a few rows' triggers. On PostgreSQL the row triggers
append to a count log, which is folded after the block instead (`pg_rollups.py`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import ColumnElement, Connection, Select, Table, column, delete, select, tuple_
from sqlalchemy import table as table_clause
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dockwatch.storage.sql import pg_rollups, rollups
from dockwatch.storage.sql import tables as t

BATCH_MIN = 1_000
"""Fewer rows than this are counted by the triggers. Measured writer CPU (2026-12-05, 20,000
findings stored): one image's 100-1,000 findings inserted or updated cost 18-160 ms with the
triggers against 37-240 ms counted per batch, so a scan on push keeps the triggers; 300
images' 3,000 findings updated or closed (a feed delta) cost 8-18% less counted per batch."""

_IDS = "rollup_batch_ids"
_BATCH = table_clause(_IDS, column("id"), schema="temp")

COUNTED = frozenset(rollups.COUNTED)
"""The `findings` columns the rollups count by: an update of other columns counts nothing."""

_EXTRA_COUNTS = {t.finding_image_counts.name: ("fix_yes", "fix_partial", "exploit_yes")}


def _in_batch() -> ColumnElement[bool]:
    return t.findings.c.id.in_(select(_BATCH.c.id))


def _sources() -> list[tuple[Table, Select[tuple[object, ...]]]]:
    where = [_in_batch()]
    return [
        (t.finding_image_counts, rollups.image_source(where)),
        (t.finding_layer_counts, rollups.layer_source(where)),
        (t.finding_package_counts, rollups.package_source(where)),
        (t.finding_title_counts, rollups.title_source("sqlite", where)),
        (t.finding_detail_counts, rollups.detail_source(where)),
        (t.finding_image_fix_counts, rollups.image_fix_source(where)),
    ]


def _key(table: Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


def _counts(table: Table) -> list[str]:
    return [*t.ROLLUP_SEVERITIES, *_EXTRA_COUNTS.get(table.name, ())]


def _count(conn: Connection, sign: int) -> None:
    """Add (sign 1) or subtract (sign -1) what the batch's rows count now."""
    for table, source in _sources():
        names = [c.name for c in source.selected_columns]
        stmt = sqlite_insert(table).from_select(names, source)
        stmt = stmt.on_conflict_do_update(
            index_elements=_key(table),
            set_={
                c: table.c[c] + stmt.excluded[c] if sign > 0 else table.c[c] - stmt.excluded[c]
                for c in _counts(table)
            },
        )
        conn.execute(stmt)


def _delete_empty(conn: Connection) -> None:
    """Delete the rollup rows of the batch's rows' keys whose counts all reached zero (run
    while the rows still hold the values that were subtracted)."""
    for table, source in _sources():
        key = _key(table)
        keys = source.subquery("k")
        conn.execute(
            delete(table).where(
                tuple_(*[table.c[k] for k in key]).in_(select(*[keys.c[k] for k in key])),
                *[table.c[s] <= 0 for s in t.ROLLUP_SEVERITIES],
            )
        )


def _load_ids(conn: Connection, ids: Sequence[str]) -> None:
    conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {_IDS} (id TEXT PRIMARY KEY)")
    conn.exec_driver_sql(f"DELETE FROM temp.{_IDS}")
    conn.exec_driver_sql(f"INSERT OR IGNORE INTO temp.{_IDS} (id) VALUES (?)", [(i,) for i in ids])


@contextmanager
def counted_once(conn: Connection, ids: Sequence[str], *, new: bool = False) -> Iterator[None]:
    """Write the findings `ids` (inserted, updated or deleted inside the block) with the rollups
    counted once for the whole batch; `new`: the block only inserts them, so there is nothing
    they count yet to subtract. On PostgreSQL the row triggers log the counts and the log is
    folded after the block (`pg_rollups.py`)."""
    if ids and conn.dialect.name == "postgresql":
        with pg_rollups.folded(conn):
            yield
        return
    if len(ids) < BATCH_MIN or not rollups.enabled(conn):
        yield
        return
    _load_ids(conn, ids)
    if not new:
        _count(conn, -1)
        _delete_empty(conn)
    conn.execute(t.finding_rollup_deferrals.insert().values(batch=1))
    try:
        yield
    finally:
        conn.execute(t.finding_rollup_deferrals.delete())
    _count(conn, 1)
    conn.exec_driver_sql(f"DELETE FROM temp.{_IDS}")
