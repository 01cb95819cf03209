"""Aggregations filtered by something that keeps nearly every finding, counted as the rollup's
answer without that filter less the findings it drops.

No rollup is keyed by a finding's last observation or update (rescans and changes move them), its
EPSS score or its source, so such a filter at the grains of an image reads every finding it
keeps: at 1,000,000 findings, `lastObservedAt` or `updatedAt` in the last 7 days took 0.7-7 s
of CPU on SQLite, `epssScore` and `vulnerabilitySource` 0.8-1.7 s, when they kept every
finding. But the findings a filter drops are found through the sort index of its column
(`ix_findings_sort_last`, `_first`, `_updated`, `_score`, `_epss`, `_source`: tenant key,
column): when they are few, the counts are those of the rollup (or the findings' detail index,
`aggregation_images.py`) that answers the other criteria, less theirs grouped as that rollup
is, image by image (so an image whose every finding is dropped counts no more). How many are
dropped is counted from the index alone and capped (`DROPPED_MOST`), and so are those it keeps,
no further than one past that: a filter that drops many, or more than it keeps, costs those
counts and takes the other paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    and_,
    func,
    literal,
    select,
    union_all,
)

from dockwatch.model.finding_criteria import Comparison, Criteria
from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc
from dockwatch.storage.sql import finding_tenants
from dockwatch.storage.sql import tables as t
from dockwatch.value_class import frozen

from .aggregation_filters import Counted, counted

DROPPED_MOST = 20_000
"""Most findings a filter may drop for its counts to be the rollup's less theirs: each costs a
row read and grouped beside the rollup's rows (10,000 dropped among 1,000,000 findings added
20-90 ms of CPU on SQLite, 170 at IMAGE_LAYER), against the tenant's findings read by the
grouped scan otherwise (0.7-6 s)."""

NULL_KEY = -1.0
"""The sort key of a finding without a score (`coalesce(score, -1.0)` in `schema/findings.py`):
no range of real scores holds it, so such a finding is dropped by any score filter."""

_DATES = {
    "lastObservedAt": "last_observed_at",
    "firstObservedAt": "first_observed_at",
    "updatedAt": "updated_at",
}
_NUMBERS = {"inspectorScore": "score_key", "epssScore": "epss_key"}
_STRINGS = {"vulnerabilitySource": "source"}

Routed = tuple[FromClause, list[ColumnElement[bool]]]

_DROPPED = t.findings.alias("dropped")
"""The findings a filter drops are chosen by their sort index in a subquery of their own."""


@frozen
class Complement:
    """What is aggregated: the aggregation type, its grain, which findings count, whose."""

    kind: str
    grain: str
    count: Counted
    tenant: Tenant


@frozen
class _Dropping:
    """One filter of the criteria: the counts without it, the ranges it holds in its column's
    order (closed intervals; None: unbounded) and the gaps it leaves (open intervals)."""

    without: Counted
    column: str
    held: list[tuple[Any, Any]]
    nullable_key: bool = False
    """The column is a score's sort key, `NULL_KEY` for findings without one."""

    @property
    def gaps(self) -> list[tuple[Any, Any]]:
        return gaps(self.held)


def gaps(ranges: Sequence[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """The open intervals around and between the closed `ranges` (None: unbounded): the values
    none of them holds. An empty range (low above high) holds nothing."""
    held = [(lo, hi) for lo, hi in ranges if lo is None or hi is None or lo <= hi]
    held.sort(key=lambda r: (r[0] is not None, r[0] if r[0] is not None else 0))
    out: list[tuple[Any, Any]] = []
    edge: Any = None
    started = False
    for lo, hi in held:
        if not started:
            if lo is not None:
                out.append((None, lo))
        elif lo is not None and lo > edge:
            out.append((edge, lo))
        started = True
        if hi is None:
            return out
        edge = hi if edge is None or hi > edge else edge
    out.append((edge, None))
    return out


def _without(count: Counted, key: str) -> Counted:
    rest = count.rest if count.rest is not None else Criteria()
    criteria = replace(
        rest,
        strings={k: v for k, v in rest.strings.items() if k != key},
        dates={k: v for k, v in rest.dates.items() if k != key},
        numbers={k: v for k, v in rest.numbers.items() if k != key},
    )
    return counted(criteria)


def _droppings(count: Counted) -> Iterator[_Dropping]:
    """Each filter of `count` whose dropped findings a sort index finds, as ranges."""
    rest = count.rest
    if rest is None:
        return
    for key, column in _DATES.items():
        if key in rest.dates:
            instants: list[tuple[Any, Any]] = [
                (
                    None if d.start is None else as_utc(d.start),
                    None if d.end is None else as_utc(d.end),
                )
                for d in rest.dates[key]
            ]
            yield _Dropping(_without(count, key), column, instants)
    for key, column in _NUMBERS.items():
        if key in rest.numbers:
            scores: list[tuple[Any, Any]] = [(n.lower, n.upper) for n in rest.numbers[key]]
            yield _Dropping(_without(count, key), column, scores, nullable_key=True)
    for key, column in _STRINGS.items():
        filters = rest.strings.get(key, ())
        if len(filters) == 1 and filters[0].comparison is Comparison.EQUALS:
            value = filters[0].value
            yield _Dropping(_without(count, key), column, [(value, value)])


def _on_index(dropping: _Dropping, key: int, dropped: bool) -> list[ColumnElement[bool]]:
    """The findings of tenant key `key` the filter drops (disjoint ranges) or keeps (its own
    ranges, which may overlap) as ranges of its column's sort index, each beside the tenant key
    so that each seeks: SQLite 3.40 scanned the table for the same ranges joined by OR (160 ms
    of CPU to count none at 1,000,000 findings)."""
    f = _DROPPED
    column = f.c[dropping.column]
    terms = []
    for lo, hi in dropping.gaps if dropped else dropping.held:
        parts = [f.c.tenant_key == key]
        if dropped:
            parts += [column > lo] if lo is not None else []
            parts += [column < hi] if hi is not None else []
        else:
            if lo is not None:
                parts.append(column >= lo)
            elif dropping.nullable_key:
                parts.append(column > NULL_KEY)
            parts += [column <= hi] if hi is not None else []
        terms.append(and_(*parts))
    if dropped and dropping.nullable_key and not _in_a_gap(NULL_KEY, dropping.gaps):
        terms.append(and_(f.c.tenant_key == key, column == NULL_KEY))
    return terms


def _in_a_gap(value: float, open_ranges: list[tuple[Any, Any]]) -> bool:
    return any((lo is None or lo < value) and (hi is None or value < hi) for lo, hi in open_ranges)


def _counted_to(conn: Connection, terms: list[ColumnElement[bool]], most: int) -> int:
    """How many findings (of any status or image) meet each of `terms` in all, read from the
    sort index alone and no further than one past `most`."""
    found = 0
    for where in terms:
        left = most + 1 - found
        probe = select(literal(1)).select_from(_DROPPED).where(where).limit(left).subquery()
        found += int(conn.execute(select(func.count()).select_from(probe)).scalar_one())
        if found > most:
            break
    return found


def complement_source(
    conn: Connection,
    what: Complement,
    routed: Callable[[Counted], Routed | None],
    grouped: Callable[[Counted, ColumnElement[bool]], FromClause],
) -> Routed | None:
    """The grain's rows as the rollup `routed` gives them for the criteria without one filter,
    less the findings that filter drops grouped alike by `grouped`; None when no filter of the
    criteria drops few enough findings or the rest has no rollup."""
    key = finding_tenants.key_of(conn, what.tenant)
    if key is None:
        return None
    for dropping in _droppings(what.count):
        # the index is asked first: the detail index's answer (`routed`) reads the database
        dropped = _on_index(dropping, key, dropped=True)
        lost = _counted_to(conn, dropped, DROPPED_MOST)
        if lost > DROPPED_MOST:
            continue
        if lost and _counted_to(conn, _on_index(dropping, key, dropped=False), lost) <= lost:
            continue  # it keeps fewer than it drops: reading those is no dearer
        base = routed(dropping.without)
        if base is None:
            continue
        if lost == 0:  # the filter holds for every finding of the tenant
            return base
        chosen = union_all(*[select(_DROPPED.c.seq).where(term) for term in dropped])
        return _netted(what, base, grouped(dropping.without, t.findings.c.seq.in_(chosen))), []
    return None


def _columns(what: Complement) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The grain's group key, the columns that follow from it, and its counts."""
    counts = t.ROLLUP_SEVERITIES
    tenant_status = ("account_id", "region", "status")
    if what.kind in ("FINDING_TYPE", "ACCOUNT"):
        return tenant_status, (), (*counts, "fix_yes", "fix_partial", "exploit_yes")
    if what.grain == "image":
        return (*tenant_status, "repository_id", "digest"), ("repository_name",), counts
    if what.grain == "layer":
        keys = (*tenant_status, "repository_id", "digest", "layer_hash")
        return keys, ("repository_name",), counts
    if what.grain == "package":
        return (*tenant_status, "package_name"), (), counts
    return (*tenant_status, "vulnerability_id", "title"), (), counts


def _netted(what: Complement, base: Routed, dropped: FromClause) -> FromClause:
    """`base`'s rows meeting its conditions and `dropped`'s with their counts negated, which
    the caller's sums net; for REPOSITORY, whose affected images are counted row by row,
    netted here image by image. (Netting every grain here sorted the whole rollup twice:
    IMAGE_LAYER with 10,000 findings dropped among 1,000,000 took 349 ms of CPU.)"""
    keys, following, counts = _columns(what)
    rows, where = base
    columns = (*keys, *following)
    kept = select(*[rows.c[k] for k in columns], *[rows.c[n] for n in counts]).where(*where)
    lost = select(*[dropped.c[k] for k in columns], *[(-dropped.c[n]).label(n) for n in counts])
    both = union_all(kept, lost).subquery("kept_and_lost")
    if what.kind != "REPOSITORY":
        return both
    b = both.c
    return (
        select(
            *[b[k] for k in keys],
            *[func.max(b[k]).label(k) for k in following],
            *[func.sum(b[n]).label(n) for n in counts],
        )
        .group_by(*[b[k] for k in keys])
        .subquery("netted")
    )
