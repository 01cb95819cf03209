"""Rollups counted once per batch of finding writes, instead of once per row by the triggers.

The triggers of `rollups.py` cost about 21 us per finding written (four upserts, each reading
the finding's detail). A batch writer (a feed delta re-evaluating 100,000 images) instead:

1. loads the ids it is about to write into a temporary table,
2. subtracts what those rows count now (one grouped statement per rollup table; nothing for
   rows not yet inserted) and deletes the rollup rows that reach zero,
3. writes its rows with the triggers standing aside (a row in `finding_rollup_deferrals`,
   deleted again before the block ends, so nothing outside the block sees it),
4. adds what the rows count after the write (the same grouped statements).

A batch of updates whose new values the writer knows (`updated_once`) is counted from the rows
read before it and the values it sets instead: the net change of each rollup key is added, and
the rows it empties deleted, without the id table's statements.

The counts end exactly where the per-row triggers would have put them (the property test
`tests/unit/storage/sql/test_rollup_batches.py` compares both). Small batches keep the triggers:
the four grouped statements cost more than a few rows' triggers. On PostgreSQL the row triggers
append to a count log, which is folded after the block instead (`pg_rollups.py`); a large batch
of new findings, or of updates whose values the writer knows, is counted by its writer there
too (`inserted_once`, `updated_once`, `pg_batch_counts.py`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Select,
    String,
    Table,
    any_,
    bindparam,
    column,
    delete,
    select,
    tuple_,
)
from sqlalchemy import table as table_clause

from dockwatch.storage.sql import pg_batch_counts, pg_rollups, rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.batching import chunks
from dockwatch.storage.sql.inserted_counts import (
    Counted,
    adding_on_conflict,
    counted_columns,
    details_of,
    inserted_counts,
    net_change,
)
from dockwatch.storage.sql.rollup_sources import count_columns, key_columns, sources

BATCH_MIN = 1_000
"""Fewer rows than this are counted by the triggers. Measured writer CPU (2026-12-05, 20,000
findings stored): one image's 100-1,000 findings inserted or updated cost 18-160 ms with the
triggers against 37-240 ms counted per batch, so a scan on push keeps the triggers; 300
images' 3,000 findings updated or closed (a feed delta) cost 8-18% less counted per batch."""

_IDS = "rollup_batch_ids"
_BATCH = table_clause(_IDS, column("id"), schema="temp")

COUNTED = frozenset(rollups.COUNTED)
"""The `findings` columns the rollups count by: an update of other columns counts nothing."""


def _in_batch() -> ColumnElement[bool]:
    return t.findings.c.id.in_(select(_BATCH.c.id))


def _sources() -> list[tuple[Table, Select[tuple[object, ...]]]]:
    return sources("sqlite", where=[_in_batch()])


def _count(conn: Connection, sign: int) -> None:
    """Add (sign 1) or subtract (sign -1) what the batch's rows count now."""
    # SQLite's dialect (6 ms of imports), which a server on PostgreSQL never loads
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    for table, source in _sources():
        names = [c.name for c in source.selected_columns]
        stmt = sqlite_insert(table).from_select(names, source)
        stmt = stmt.on_conflict_do_update(
            index_elements=key_columns(table),
            set_={
                c: table.c[c] + stmt.excluded[c] if sign > 0 else table.c[c] - stmt.excluded[c]
                for c in count_columns(table)
            },
        )
        conn.execute(stmt)


def _delete_empty(conn: Connection) -> None:
    """Delete the rollup rows of the batch's rows' keys whose counts all reached zero (run
    while the rows still hold the values that were subtracted)."""
    for table, source in _sources():
        key = key_columns(table)
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


# --- a batch of new rows counted from the rows themselves -----------------------------------


def _upsert_sql(table: Table) -> str:
    """INSERT ... ON CONFLICT adding the counts, as `_count(conn, 1)` does (SQLite)."""
    names = counted_columns(table)
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
        + adding_on_conflict(table)
    )


@contextmanager
def inserted_once(
    conn: Connection, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> Iterator[None]:
    """Insert the findings `rows` (values in `columns` order, every column `rollups.COUNTED`
    names among them) inside the block, the rollups counted once for the batch from the rows
    themselves (`inserted_counts.py`). `counted_once` reads every row back through the batch's
    id table with grouped statements instead: 0.29 s of CPU for the 13,465 findings a
    1,000-advisory update opens at 2,000 images, against 0.08 s here (0.05 s counting, 0.03 s
    of upserts). On PostgreSQL the log is folded after the block, as in `counted_once`; a batch
    of `BATCH_MIN` rows or more is kept out of it while this transaction can hold the fold lock
    (`pg_batch_counts.py`), else its triggers log it."""
    if rows and conn.dialect.name == "postgresql":
        if len(rows) < BATCH_MIN or not _pg_counted_here(conn):
            with pg_rollups.folded(conn):
                yield
            return
        pg_rollups.defer_counts(conn, True)
        yield
        pg_rollups.defer_counts(conn, False)
        pg_batch_counts.add_counts(conn, inserted_counts(conn, columns, rows))
        pg_rollups.fold(conn)  # what other writes of this transaction logged
        return
    if len(rows) < BATCH_MIN or not rollups.enabled(conn):
        yield
        return
    conn.execute(t.finding_rollup_deferrals.insert().values(batch=1))
    try:
        yield
    finally:
        conn.execute(t.finding_rollup_deferrals.delete())
    _add(conn, inserted_counts(conn, columns, rows))


def _add(conn: Connection, counted: Counted) -> None:
    """Add `counted` to the rollup tables (SQLite)."""
    for table in rollups.TABLES:
        found = counted[table.name]
        if found:
            # in key order: each upsert then lands beside the previous one in the table's
            # b-tree instead of anywhere in it (the rescan benchmark at 20,000 images: 156,482
            # rows upserted in 1.11 s of CPU in the rows' order, 0.66 s in key order; sorting
            # the keys took 0.16 s)
            conn.exec_driver_sql(_upsert_sql(table), [(*key, *found[key]) for key in sorted(found)])


def _delete_emptied(conn: Connection, counted: Counted) -> None:
    """Delete the rollup rows of `counted`'s keys whose severity counts all reached zero, as
    `_delete_empty` does for the rows of the batch's id table and a fold for the keys it
    counts out."""
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    for table in rollups.TABLES:
        found = counted[table.name]
        if not found:
            continue
        width = len(next(iter(found)))
        keys = counted_columns(table)[:width]
        where = " AND ".join(
            [*(f"{k} = {mark}" for k in keys), *(f"{s} <= 0" for s in t.ROLLUP_SEVERITIES)]
        )
        conn.exec_driver_sql(f"DELETE FROM {table.name} WHERE {where}", sorted(found))


# --- a batch of updates counted from the rows before and the values set ---------------------


@contextmanager
def updated_once(
    conn: Connection, columns: Sequence[str], values: Mapping[str, Sequence[Any]]
) -> Iterator[None]:
    """Set `columns` on the findings `values` names (id -> the new values, in `columns` order)
    inside the block, the rollups counted once for the batch: what the rows count is read
    before the block and what they count after follows from the values set (`inserted_counts`
    of both); the net change of each key is added and the rollup rows it empties deleted
    (`net_change`: a key whose counts do not change is left alone, as a fold of the count log
    nets it out). The rescan benchmark's update at 20,000 images updates 2,098 of 1,061,547
    findings; their counting took 0.82-1.05 s on SQLite through `counted_once` (the batch's
    id table read by grouped statements three times: subtract, delete the emptied rows, add),
    0.08-0.15 s here; on PostgreSQL the count log's fold took 0.42-0.54 s, this 0.12-0.22 s
    (two runs each, alternately, sampled; the UPDATE itself 0.20-0.59 s). On PostgreSQL the
    triggers are deferred while this transaction holds the fold lock, as in `inserted_once`
    (else the count log, as `counted_once`); a smaller batch keeps the triggers (1,000 random
    closes among 1,061,547 findings on SQLite: 195-268 ms of CPU counted so, 257-306 with the
    triggers; 300: 73-80 against 78-97; 100 and fewer about even)."""
    if not set(columns) & COUNTED:
        yield
        return
    postgres = conn.dialect.name == "postgresql"
    if (
        len(values) < BATCH_MIN
        or not rollups.enabled(conn)
        or (postgres and not _pg_counted_here(conn))
    ):
        with counted_once(conn, list(values)):
            yield
        return
    before = _counted_rows(conn, sorted(values))
    at = [rollups.COUNTED.index(c) if c in COUNTED else -1 for c in columns]
    after = []
    for fid, row in before.items():
        changed = list(row)
        for i, value in zip(at, values[fid], strict=True):
            if i >= 0:
                changed[i] = value
        after.append(tuple(changed))
    if postgres:
        pg_rollups.defer_counts(conn, True)
        yield
        pg_rollups.defer_counts(conn, False)
    else:
        conn.execute(t.finding_rollup_deferrals.insert().values(batch=1))
        try:
            yield
        finally:
            conn.execute(t.finding_rollup_deferrals.delete())
    ref = rollups.COUNTED.index("detail_ref")
    details = details_of(conn, sorted({r[ref] for r in (*before.values(), *after)}))
    change, falls = net_change(
        inserted_counts(conn, rollups.COUNTED, list(before.values()), details),
        inserted_counts(conn, rollups.COUNTED, after, details),
    )
    (pg_batch_counts.add_counts if postgres else _add)(conn, change)
    _delete_emptied(conn, falls)
    if postgres:
        pg_rollups.fold(conn)  # what other writes of this transaction logged


def _counted_rows(conn: Connection, ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """The `rollups.COUNTED` columns of the findings `ids` that exist, by id (on PostgreSQL
    the ids bound as one array, as `inserted_counts` reads details)."""
    f = t.findings
    out: dict[str, tuple[Any, ...]] = {}
    for part in chunks(list(ids)):
        if conn.dialect.name == "postgresql":
            chosen = f.c.id == any_(bindparam("ids", part, type_=ARRAY(String)))
        else:
            chosen = f.c.id.in_(part)
        for fid, *row in conn.execute(
            select(f.c.id, *[f.c[c] for c in rollups.COUNTED]).where(chosen)
        ):
            out[fid] = tuple(row)
    return out


def _pg_counted_here(conn: Connection) -> bool:
    """Whether this transaction counts a batch itself on PostgreSQL: the triggers can be
    deferred (findings/17) and it holds the fold lock (taken now if no one else has it)."""
    return pg_rollups.defers_counts(conn) and pg_rollups.try_hold(conn)
