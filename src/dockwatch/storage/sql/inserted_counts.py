"""What a batch of new findings counts in each rollup table, computed from the rows themselves.

A new row counts nothing yet, so nothing is subtracted; what it adds follows from its own
columns and its detail's title, layers and package names (read once per detail). The values
are those the grouped sources of `rollup_sources.py` give for the same rows, on SQLite and on
PostgreSQL (the per-row triggers' counts: `tests/unit/storage/sql/test_rollup_inserted.py`,
`tests/contract/test_batch_counts.py`); `rollup_batches.inserted_once` and
`pg_batch_counts.add_counts` add them. A batch of updates (`rollup_batches.updated_once`)
counts its rows so twice, as they were before it and with the values it sets, and adds the
difference (`net_change`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, Connection, String, Table, any_, bindparam, select

from dockwatch.storage.sql import rollup_sources, rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.batching import chunks
from dockwatch.storage.sql.rollup_sources import count_columns, key_columns
from dockwatch.storage.sql.schema.epoch_micros import to_micros

INSERTED_KEYS: dict[str, tuple[str, ...]] = {
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

Counted = dict[str, dict[tuple[Any, ...], list[Any]]]
"""Per rollup table's name: its key columns -> the columns after them and the severity counts."""


def counted_columns(table: Table) -> list[str]:
    """The columns of a counted row of `table`, in order (`INSERTED_KEYS`, then severities)."""
    return [*INSERTED_KEYS[table.name], *t.ROLLUP_SEVERITIES]


def adding_on_conflict(table: Table) -> str:
    """The ON CONFLICT clause (SQLite and PostgreSQL) of an INSERT of counted rows into
    `table`: a row of a key already there adds its counts, as a fold or a trigger does."""
    name = table.name
    adds = ", ".join(f"{c} = {name}.{c} + excluded.{c}" for c in count_columns(table))
    return f"ON CONFLICT ({', '.join(key_columns(table))}) DO UPDATE SET {adds}"


def net_change(before: Counted, after: Counted) -> tuple[Counted, Counted]:
    """What replacing the counts `before` by `after` changes in each rollup table: the net
    counts of every key whose counts change (the columns after the key that are not counts
    from `after` where it has the key, else from `before`), and among those the keys whose
    counts fall (a row a fall may empty). A key counted the same before and after is left
    out, as a fold of the count log nets it out."""
    change: Counted = {}
    falls: Counted = {}
    for table in rollups.TABLES:
        old, new = before.get(table.name, {}), after.get(table.name, {})
        change[table.name], falls[table.name] = net, fell = {}, {}
        keys = old.keys() | new.keys()
        if not keys:
            continue
        width = len(next(iter(keys)))
        adds = set(count_columns(table))
        at = [i for i, name in enumerate(counted_columns(table)[width:]) if name in adds]
        for key in keys:
            was, now = old.get(key), new.get(key)
            if was is None:
                net[key] = new[key]  # a key `after` adds
                continue
            row = list(was if now is None else now)
            for i in at:
                row[i] = (0 if now is None else now[i]) - was[i]
            if any(row[i] for i in at):
                net[key] = row
                if any(row[i] < 0 for i in at):
                    fell[key] = row
    return change, falls


_SEVERITY_INDEX = {s.upper(): i for i, s in enumerate(t.ROLLUP_SEVERITIES)}


Details = dict[str, tuple[Any, set[str], set[str], str]]
"""Per detail ref: its title, layer hashes, package names, and those names as the detail rollup
spells them (`finding_detail_counts.package_names`)."""


def details_of(conn: Connection, refs: Sequence[str]) -> Details:
    """What the rollup sources read of each detail. SQLite: the rows read straight (the names
    spelled as `json_group_array` writes them); PostgreSQL: the spelling read with
    `rollup_sources.package_names`' own expression (`json_agg`, in the database's collation)."""
    if conn.dialect.name == "postgresql":
        return _details_of_pg(conn, refs)
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
    return {ref: (*found, _names_json(found[2])) for ref, found in out.items()}


def _details_of_pg(conn: Connection, refs: Sequence[str]) -> Details:
    """`details_of` on PostgreSQL: the refs bound as one array (`= ANY`), not a list of
    parameters, which SQLAlchemy and psycopg rewrote one by one (about half of the reads' 90 ms
    of CPU for the 13,465 findings of the rescan benchmark's update at 2,000 images)."""
    d, dp = t.finding_details, t.detail_packages
    out: Details = {}
    for part in chunks(list(refs)):
        these = bindparam("refs", part, type_=ARRAY(String))
        spelled = rollup_sources.package_names("postgresql", d.c.ref)
        for ref, title, names in conn.execute(
            select(d.c.ref, d.c.title, spelled).where(d.c.ref == any_(these))
        ):
            out[ref] = (title, set(), set(), names)
        for ref, layer, name in conn.execute(
            select(dp.c.detail_ref, dp.c.source_layer_hash, dp.c.name).where(
                dp.c.detail_ref == any_(these)
            )
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
    """`rollup_sources.first_second` of a finding's `first_observed_at` on SQLite (an aware
    datetime, or the integer microseconds SQLite stores), as the integer the driver is given."""
    micros = value if isinstance(value, int) else to_micros(value)
    return micros // t.FIRST_SECOND * t.FIRST_SECOND


def _first_second_pg(value: datetime) -> datetime:
    """`rollup_sources.first_second` on PostgreSQL (`date_trunc('second', ...)`)."""
    return value.replace(microsecond=0)


def inserted_counts(
    conn: Connection,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    details: Details | None = None,
) -> Counted:
    """What the new finding `rows` (values in `columns` order) count in each rollup table: its
    key columns -> the columns after them (`INSERTED_KEYS`) and the severity counts. The rows'
    `details` are read here unless given (`details_of`)."""
    at = {c: columns.index(c) for c in rollups.COUNTED}
    account, region, status = at["account_id"], at["region"], at["status"]
    repo_id, repo_name, digest = at["repository_id"], at["repository_name"], at["digest"]
    vuln_id, severity, detail_ref = at["vulnerability_id"], at["severity"], at["detail_ref"]
    fix_available, exploit_available = at["fix_available"], at["exploit_available"]
    source, inspector_score, epss_score = at["source"], at["inspector_score"], at["epss_score"]
    first_observed = at["first_observed_at"]
    if details is None:
        details = details_of(conn, sorted({r[detail_ref] for r in rows}))
    first_second: Any = _first_second_pg if conn.dialect.name == "postgresql" else _first_second
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
            second = seconds[observed] = first_second(observed)
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
            counts = detail[key] = [score, epss, found[0], found[3], *six]
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
