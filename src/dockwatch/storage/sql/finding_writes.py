"""The findings writer's statements: a rescan writes one finding row, one outbox row and often
one update per affected (image, package) pair, each batch as plain tuples in id order, with a
page cache sized for the batch on SQLite: there, new findings many rows to an INSERT statement
(`ROWS_PER_STATEMENT`), or for a large batch staged in a temporary table and inserted by one
statement per `STAGED_ROWS` (`_insert_staged`); the rest through `bulk`'s executemany.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from itertools import chain
from typing import Any

from sqlalchemy import Connection

from dockwatch.storage.finding_repo import FindingState, NewFinding
from dockwatch.storage.sql import finding_tenants, rollup_batches
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.bulk import driver_rows, insert_rows, update_by_key

# --- SQLite's page cache during a batch -------------------------------------------------------

CACHE_KIB_PER_WRITE = 20
"""Page cache asked for each finding a batch writes (a row touches the table and 16 indexes)."""
CACHE_KIB_MAX = 256 * 1024
CACHE_MIN_WRITES = 1_000
"""Smaller batches keep the connection's cache as it is."""


def _cache_kib(conn: Connection) -> int:
    size = int(conn.exec_driver_sql("PRAGMA cache_size").scalar() or 0)
    if size < 0:
        return -size
    return size * int(conn.exec_driver_sql("PRAGMA page_size").scalar() or 4096) // 1024


@contextmanager
def page_cache_for(conn: Connection, writes: int) -> Iterator[None]:
    """A larger SQLite page cache while a batch of `writes` findings is written, the former
    size restored after. With SQLite's default 2 MB, each row inserted among 120,000 findings
    re-reads its index pages through the OS: 93 us of CPU a row; with 256 MB, 47 us."""
    if conn.dialect.name != "sqlite" or writes < CACHE_MIN_WRITES:
        yield
        return
    before = _cache_kib(conn)
    wanted = min(CACHE_KIB_MAX, writes * CACHE_KIB_PER_WRITE)
    if wanted <= before:
        yield
        return
    conn.exec_driver_sql(f"PRAGMA cache_size = -{wanted}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = -{before}")


# --- the findings writer's statements ------------------------------------------------------

_STATE_COLUMNS = (
    "status", "suppressed_by", "severity", "fix_available", "exploit_available",
    "inspector_score", "epss_score", "source", "last_observed_at", "updated_at", "detail_ref",
)  # fmt: skip
assert _STATE_COLUMNS == tuple(f.name for f in fields(FindingState))

_INSERT_COLUMNS = (
    "id", "account_id", "region", "tenant_key", "repository_id", "repository_name", "digest",
    "vulnerability_id", "generation", "first_observed_at", "closed_at", *_STATE_COLUMNS,
)  # fmt: skip


def _state(s: FindingState) -> tuple[Any, ...]:
    return (s.status, s.suppressed_by, s.severity, s.fix_available, s.exploit_available,
            s.inspector_score, s.epss_score, s.source, s.last_observed_at, s.updated_at,
            s.detail_ref)  # fmt: skip


def insert_findings(conn: Connection, findings: Sequence[NewFinding]) -> None:
    """Store new findings, the rollups counted once for the batch, in the order of their ids.

    The sort indexes end with `seq`, which grows as rows go in, so a batch appends to the end
    of each key's run whatever its order; only `ix_findings_id` (random ids) and
    `ix_findings_image` take rows all over. Id order walks the first forward; image order
    would walk the second instead, for the same cost (10,000 findings among 1,000,000,
    `bench/finding_writes.py`: 117 us of CPU a finding in id order, 117 in image order). Before
    `seq`, when the sort indexes ended with the id, id order halved the insert (60,000 rows
    among 600,000: 133 -> 70 us)."""
    if not findings:
        return
    # a batch's findings share a few states (one per draft and status): each made a tuple once
    states: dict[int, tuple[Any, ...]] = {}
    keys = finding_tenants.ensure_keys(conn, {f.tenant for f in findings})
    rows = []
    for f in findings:
        state = states.get(id(f.state))
        if state is None:
            state = states[id(f.state)] = _state(f.state)
        tenant = f.tenant
        rows.append(
            (f.id, tenant.account_id, tenant.region, keys[tenant], f.repository_id,
             f.repository_name, f.digest, f.vulnerability_id, f.generation, f.first_observed_at,
             None, *state)
        )  # fmt: skip
    rows.sort()  # the ids are unique: only they are compared
    with rollup_batches.inserted_once(conn, _INSERT_COLUMNS, rows):
        if conn.dialect.name == "sqlite" and len(rows) >= STAGED_MIN:
            _insert_staged(conn, rows)
        elif conn.dialect.name == "sqlite":
            _insert_in_statements(conn, rows)
        else:
            insert_rows(conn, t.findings, _INSERT_COLUMNS, rows)


ROWS_PER_STATEMENT = 250
"""New findings per INSERT statement on SQLite (fewer when the library binds fewer variables).

Each statement fires the rollup trigger's program (its frame, about 20 kB, allocated and
zeroed, even when the trigger stands aside for a batch) and opens and releases a statement
journal; row by row through `executemany` that was paid for every finding. The 13,465 rows a
1,000-advisory update opens at 2,000 images (`bench/scanning.py --data`, the apply under
callgrind): 12.99 G instructions row by row, 11.34 G at 100 rows a statement, 11.28 G at 250."""


def _insert_in_statements(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT the findings `rows` (in `_INSERT_COLUMNS` order) on SQLite, `ROWS_PER_STATEMENT`
    rows to a multi-row VALUES statement, in order (a statement inserts its rows in order)."""
    values = driver_rows(conn, t.findings, _INSERT_COLUMNS, rows)
    width = len(_INSERT_COLUMNS)
    driver = conn.connection.driver_connection
    limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if driver else 999
    per = max(1, min(ROWS_PER_STATEMENT, int(limit) // width))
    quote = conn.dialect.identifier_preparer.quote
    head = (
        f"INSERT INTO {quote(t.findings.name)} ({', '.join(quote(c) for c in _INSERT_COLUMNS)}) "
        "VALUES "
    )
    one = f"({', '.join(['?'] * width)})"
    full = head + ", ".join([one] * per)
    for start in range(0, len(values), per):
        part = values[start : start + per]
        sql = full if len(part) == per else head + ", ".join([one] * len(part))
        conn.exec_driver_sql(sql, tuple(chain.from_iterable(part)))


STAGED_MIN = 1_000
"""New findings from which a batch is staged (`_insert_staged`) rather than inserted in
statements of `ROWS_PER_STATEMENT`."""
STAGED_ROWS = 20_000
"""New findings staged and inserted by one statement: the statement journal holds each page
the statement changes, once (in memory: `temp_store = MEMORY`), so this bounds it. The rescan
at 20,000 images peaked at 818 MB of RSS in statements of 250 rows, 898 MB staged by 20,000,
916 MB in one statement."""
_STAGED = "staged_findings"


def _insert_staged(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT the findings `rows` on SQLite through a temporary table, in order: up to
    `STAGED_ROWS` at a time go in by one `executemany` (no index, no trigger), then into
    `findings` by one `INSERT ... SELECT`.

    A statement that may stop half way copies each page it is about to change to the statement
    journal first (so that its own rows alone can be undone), once per statement. Among
    1,061,547 findings the random ids and images send each row to other pages of
    `ix_findings_id` and `ix_findings_image`, so each statement of 250 rows copied about as
    many pages again, and copying them was most of the insert: 132,136 new findings of a
    rescan at 20,000 images took 5.5-6.7 s in 529 statements, 3.1-5.2 s staged
    (`bench/scanning.py --part rescan --data`, sampled, alternately). Alone, in a copy of that
    database: 6.9-8.2 s in statements of 250 rows, 4.5-4.8 s staged by 20,000 rows, 4.0-4.1 s
    in one statement."""
    values = driver_rows(conn, t.findings, _INSERT_COLUMNS, rows)
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in _INSERT_COLUMNS)
    # no column types: each value is kept as bound, then converted by `findings`' own columns
    conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGED} ({names})")
    staged = f"temp.{_STAGED}"
    conn.exec_driver_sql(f"DELETE FROM {staged}")
    fill = f"INSERT INTO {staged} ({names}) VALUES ({', '.join(['?'] * len(_INSERT_COLUMNS))})"
    move = (
        f"INSERT INTO {quote(t.findings.name)} ({names}) "
        f"SELECT {names} FROM {staged} ORDER BY rowid"  # the order staged: the ids'
    )
    for start in range(0, len(values), STAGED_ROWS):
        conn.exec_driver_sql(fill, values[start : start + STAGED_ROWS])
        conn.exec_driver_sql(move)
        conn.exec_driver_sql(f"DELETE FROM {staged}")


def set_states(conn: Connection, states: Mapping[str, FindingState]) -> None:
    """Give open findings the state an evaluation found (closed_at cleared: a reopen)."""
    columns = [*_STATE_COLUMNS, "closed_at"]
    values = {fid: (*_state(states[fid]), None) for fid in sorted(states)}  # id order, as above
    with rollup_batches.updated_once(conn, columns, values):
        update_by_key(conn, t.findings, "id", columns, [(*v, fid) for fid, v in values.items()])


def update_ids(conn: Connection, ids: Sequence[str], values: Mapping[str, Any]) -> None:
    """Set the same `values` on the findings `ids`."""
    if not ids:
        return
    columns = list(values)
    fixed = tuple(values.values())
    with rollup_batches.updated_once(conn, columns, dict.fromkeys(ids, fixed)):
        update_by_key(conn, t.findings, "id", columns, [(*fixed, fid) for fid in sorted(ids)])
