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

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, column, delete, select, tuple_
from sqlalchemy import table as table_clause

from dockwatch.storage.sql import pg_rollups, rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.batching import chunks
from dockwatch.storage.sql.rollup_sources import count_columns, key_columns, sources
from dockwatch.storage.sql.schema.epoch_micros import to_micros

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


# --- a batch of new rows counted from the rows themselves (SQLite) -----------------------------

_INSERTED_KEYS: dict[str, tuple[str, ...]] = {
    t.finding_image_counts.name: (
        "account_id", "region", "status", "repository_id", "digest", "repository_name",
        "fix_yes", "fix_partial", "exploit_yes",
    ),
    t.finding_layer_counts.name: (
        "account_id", "region", "status", "repository_id", "digest", "layer_hash",
        "fix_available", "exploit_available", "repository_name",
    ),
    t.finding_package_counts.name: ("account_id", "region", "status", "package_name"),
    t.finding_title_counts.name: ("account_id", "region", "status", "vulnerability_id", "title"),
    t.finding_detail_counts.name: (
        "account_id", "region", "status", *rollups.DETAIL_KEY, "score_key", "epss_key",
        "inspector_score", "epss_score", "title", "package_names",
    ),
    t.finding_image_fix_counts.name: (
        "account_id", "region", "status", "repository_id", "digest", "fix_available",
        "exploit_available", "repository_name",
    ),
    t.finding_image_score_counts.name: (
        "account_id", "region", "status", "repository_id", "digest", "score_key",
        "inspector_score", "repository_name",
    ),
    t.finding_image_first_counts.name: (
        "account_id", "region", "status", "repository_id", "digest", "first_observed_second",
        "repository_name", "fix_yes", "fix_partial", "exploit_yes",
    ),
}  # fmt: skip
"""Per rollup table, the columns a counted row carries before its severity counts."""

_SEVERITY_INDEX = {s.upper(): i for i, s in enumerate(t.ROLLUP_SEVERITIES)}


def _upsert_sql(table: Table) -> str:
    """INSERT ... ON CONFLICT adding the counts, as `_count(conn, 1)` does."""
    names = [*_INSERTED_KEYS[table.name], *t.ROLLUP_SEVERITIES]
    adds = ", ".join(f"{c} = {c} + excluded.{c}" for c in count_columns(table))
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
        f"ON CONFLICT ({', '.join(key_columns(table))}) DO UPDATE SET {adds}"
    )


def _details_of(conn: Connection, refs: Sequence[str]) -> dict[str, tuple[Any, set[str], set[str]]]:
    """(title, layer hashes, package names) of each detail, as the rollup sources read them."""
    out: dict[str, tuple[Any, set[str], set[str]]] = {}
    for part in chunks(list(refs)):
        marks = ", ".join("?" * len(part))
        titles: dict[str, Any] = dict(
            conn.exec_driver_sql(
                f"SELECT ref, title FROM finding_details WHERE ref IN ({marks})", tuple(part)
            ).fetchall()
        )
        for ref, title in titles.items():
            out[ref] = (title, set(), set())
        for ref, layer, name in conn.exec_driver_sql(
            "SELECT detail_ref, source_layer_hash, name FROM detail_packages "
            f"WHERE detail_ref IN ({marks})",
            tuple(part),
        ):
            if ref in out:
                if layer is not None:
                    out[ref][1].add(layer)
                out[ref][2].add(name)
    return out


def _names_json(names: set[str]) -> str:
    """Package names as SQLite's `json_group_array` writes them in name order (the triggers'
    and `rollup_sources.package_names`' spelling of `finding_detail_counts.package_names`)."""
    return json.dumps(sorted(names), separators=(",", ":"), ensure_ascii=False)


def _first_second(value: datetime | int) -> int:
    """`rollup_sources.first_second` of a finding's `first_observed_at` (an aware datetime, or
    the integer microseconds SQLite stores), as the integer the driver is given."""
    micros = value if isinstance(value, int) else to_micros(value)
    return micros // t.FIRST_SECOND * t.FIRST_SECOND


def _inserted_counts(
    conn: Connection, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> dict[str, dict[tuple[Any, ...], list[Any]]]:
    """What the rows count in each rollup table: its key columns -> the columns after them
    (`_INSERTED_KEYS`) and the severity counts."""
    at = {c: columns.index(c) for c in rollups.COUNTED}
    account, region, status = at["account_id"], at["region"], at["status"]
    repo_id, repo_name, digest = at["repository_id"], at["repository_name"], at["digest"]
    vuln_id, severity, detail_ref = at["vulnerability_id"], at["severity"], at["detail_ref"]
    fix_available, exploit_available = at["fix_available"], at["exploit_available"]
    source, inspector_score, epss_score = at["source"], at["inspector_score"], at["epss_score"]
    first_observed = at["first_observed_at"]
    details = _details_of(conn, sorted({r[detail_ref] for r in rows}))
    six = [0] * len(t.ROLLUP_SEVERITIES)
    image: dict[tuple[Any, ...], list[Any]] = {}
    layer: dict[tuple[Any, ...], list[Any]] = {}
    package: dict[tuple[Any, ...], list[Any]] = {}
    title: dict[tuple[Any, ...], list[Any]] = {}
    detail: dict[tuple[Any, ...], list[Any]] = {}
    fix: dict[tuple[Any, ...], list[Any]] = {}
    scores: dict[tuple[Any, ...], list[Any]] = {}
    first: dict[tuple[Any, ...], list[Any]] = {}
    # a batch's findings share a few first-observed instants (one a scan): each converted once
    seconds: dict[Any, int] = {}
    # what depends on the detail (package, title and detail rollups) is counted per group of
    # rows sharing it: thousands of images share each detail
    groups: dict[tuple[Any, ...], int] = {}
    for r in rows:
        found = details.get(r[detail_ref])
        if found is None:
            continue  # the joins of the SQL sources drop a row without its detail
        sev = _SEVERITY_INDEX.get(r[severity])
        tenant = (r[account], r[region], r[status])
        where = (*tenant, r[repo_id], r[digest])
        name, fixed, exploit = r[repo_name], r[fix_available], r[exploit_available]
        for layer_hash in found[1]:
            counts = layer.get((*where, layer_hash, fixed, exploit))
            if counts is None:
                counts = layer[(*where, layer_hash, fixed, exploit)] = [name, *six]
            elif name > counts[0]:
                counts[0] = name
            if sev is not None:
                counts[1 + sev] += 1
        observed = r[first_observed]
        second = seconds.get(observed)
        if second is None:
            second = seconds[observed] = _first_second(observed)
        counts = first.get((*where, second))
        if counts is None:
            counts = first[(*where, second)] = [name, 0, 0, 0, *six]
        elif name > counts[0]:
            counts[0] = name  # max(repository_name), as the grouped source has it
        counts[1] += fixed == "YES"
        counts[2] += fixed == "PARTIAL"
        counts[3] += exploit == "YES"
        if sev is not None:
            counts[4 + sev] += 1
        counts = fix.get((*where, fixed, exploit))
        if counts is None:
            counts = fix[(*where, fixed, exploit)] = [name, *six]
        elif name > counts[0]:
            counts[0] = name
        if sev is not None:
            counts[1 + sev] += 1
        score = r[inspector_score]
        scored = (*where, -1.0 if score is None else score)
        counts = scores.get(scored)
        if counts is None:
            counts = scores[scored] = [score, name, *six]
        elif name > counts[1]:
            counts[1] = name
        if sev is not None:
            counts[2 + sev] += 1
        group = (*tenant, r[detail_ref], r[vuln_id], fixed, exploit, r[source],
                 r[inspector_score], r[epss_score], sev)  # fmt: skip
        groups[group] = groups.get(group, 0) + 1
    # an image's counts are those of its first-observed seconds added up (a batch's rows of
    # one image share one or two seconds: counted once per row instead of twice)
    for (*where_second, _second), counts in first.items():
        where = tuple(where_second)
        total = image.get(where)
        if total is None:
            image[where] = list(counts)
            continue
        if counts[0] > total[0]:
            total[0] = counts[0]
        for i in range(1, len(counts)):
            total[i] += counts[i]
    for group, n in groups.items():
        tenant, ref, vuln = group[:3], group[3], group[4]
        score, epss, sev = group[8], group[9], group[10]
        found = details[ref]
        for package_name in found[2]:
            counts = package.setdefault((*tenant, package_name), [*six])
            if sev is not None:
                counts[sev] += n
        counts = title.setdefault((*tenant, vuln, vuln if found[0] is None else found[0]), [*six])
        if sev is not None:
            counts[sev] += n
        key = (*group[:8], -1.0 if score is None else score, -1.0 if epss is None else epss)
        counts = detail.get(key)
        if counts is None:
            counts = detail[key] = [score, epss, found[0], _names_json(found[2]), *six]
        if sev is not None:
            counts[4 + sev] += n
    return {
        t.finding_image_counts.name: image,
        t.finding_layer_counts.name: layer,
        t.finding_package_counts.name: package,
        t.finding_title_counts.name: title,
        t.finding_detail_counts.name: detail,
        t.finding_image_fix_counts.name: fix,
        t.finding_image_score_counts.name: scores,
        t.finding_image_first_counts.name: first,
    }


@contextmanager
def inserted_once(
    conn: Connection, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> Iterator[None]:
    """Insert the findings `rows` (values in `columns` order, every column `rollups.COUNTED`
    names among them) inside the block, the rollups counted once for the batch from the rows
    themselves: a new row counts nothing yet, so nothing is subtracted, and what it adds follows
    from its own columns and its detail's title, layers and package names (read once per
    detail). `counted_once` reads every row back through the batch's id table with grouped
    statements instead: 0.29 s of CPU for the 13,465 findings a 1,000-advisory update opens at
    2,000 images, against 0.08 s here (0.05 s counting, 0.03 s of upserts). On PostgreSQL the
    row triggers log the counts and the log is folded after the block, as in `counted_once`."""
    if rows and conn.dialect.name == "postgresql":
        with pg_rollups.folded(conn):
            yield
        return
    if len(rows) < BATCH_MIN or not rollups.enabled(conn):
        yield
        return
    conn.execute(t.finding_rollup_deferrals.insert().values(batch=1))
    try:
        yield
    finally:
        conn.execute(t.finding_rollup_deferrals.delete())
    counted = _inserted_counts(conn, columns, rows)
    for table in rollups.TABLES:
        found = counted[table.name]
        if found:
            # in key order: each upsert then lands beside the previous one in the table's
            # b-tree instead of anywhere in it (the rescan benchmark at 20,000 images: 156,482
            # rows upserted in 1.11 s of CPU in the rows' order, 0.66 s in key order; sorting
            # the keys took 0.16 s)
            conn.exec_driver_sql(_upsert_sql(table), [(*key, *found[key]) for key in sorted(found)])
