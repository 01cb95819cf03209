"""Image-grain counts for a `firstObservedAt` range, from the image first-seen rollup.

`finding_image_first_counts` counts findings per image, status and the whole second they were
first observed in. For one range [start, end] (either end open), the seconds wholly inside it
are summed from the rollup's rows; the findings of the seconds its ends cut (a start or an end
inside a second: at most one second at each end) are counted exactly from `findings` through
`ix_findings_sort_first` (tenant key, first observed), so the counts are exact for any range,
microseconds included. At 1,000,000 findings, AWS_ECR_CONTAINER for the last 7 days (70% of the
findings) reads 10,000 rollup rows instead of 700,000 findings (docs/findings.md).

IMAGE_LAYER reads the same rollup to tell the images apart: an image whose findings (of the
statuses counted) all lie in whole seconds inside the range counts its rows of the layer rollup
whole; an image with some inside and some not, or some in a cut second, has its findings in
the range recounted from `findings`; the others count nothing. An image's findings are first
observed in a few seconds (its first scan, then each update that found more), so most images
are whole or untouched, and often none is cut (docs/findings.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Integer,
    Select,
    Table,
    and_,
    case,
    cast,
    false,
    func,
    or_,
    select,
    true,
    tuple_,
    union_all,
)

from dockwatch.model.finding_criteria import Criteria, DateFilter
from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc
from dockwatch.storage.sql import rollups
from dockwatch.storage.sql import tables as t

from .aggregation_filters import Counted
from .aggregation_scan import Grouped
from .criteria_sql import image_keys_in, sql_filter, unindexed
from .tenant_sql import of_tenant

_SECOND = timedelta(microseconds=t.FIRST_SECOND)
_MICROSECOND = timedelta(microseconds=1)


def _floor(at: datetime) -> datetime:
    return at - timedelta(microseconds=at.microsecond % t.FIRST_SECOND)


def _ceil(at: datetime) -> datetime:
    floor = _floor(at)
    return floor if floor == at else floor + _SECOND


def split(
    d: DateFilter,
) -> tuple[tuple[datetime | None, datetime | None] | None, list[tuple[datetime, datetime]]]:
    """The range `d` as the whole seconds inside it, [first, end) (None: no whole second; an
    end None: open), and the ranges of instants [low, high] left at its ends."""
    start = None if d.start is None else as_utc(d.start)
    end = None if d.end is None else as_utc(d.end)
    first = None if start is None else _ceil(start)
    after = None if end is None else _floor(end + _MICROSECOND)  # the whole seconds end here
    if start is not None and end is not None:
        if start > end:
            return None, []
        assert first is not None and after is not None
        if first >= after:  # no whole second inside: every instant from the findings
            return None, [(start, end)]
    edges = []
    if start is not None and first is not None and start < first:
        edges.append((start, first - _MICROSECOND))
    if end is not None and after is not None and after <= end:
        edges.append((after, end))
    return (first, after), edges


def _image_columns(source: FromClause) -> list[ColumnElement[Any]]:
    """The columns of `finding_image_counts`, in its order, from `source`."""
    return [source.c[c.name] for c in t.finding_image_counts.columns]


def _edge(
    conn: Connection, tenant: Tenant, count: Counted, low: datetime, high: datetime
) -> Select[Any]:
    """The findings first observed in [low, high] (within one second), grouped by image."""
    f = t.findings
    # the range on (tenant key, first observed) drives: not the status index
    status = unindexed(f.c.status) if conn.dialect.name == "sqlite" else f.c.status
    where = [
        *of_tenant(conn, tenant),
        status.in_(sorted(count.statuses)),
        f.c.first_observed_at >= low,
        f.c.first_observed_at <= high,
    ]
    grouped = rollups.image_source(where).subquery("edge")
    return select(*_image_columns(grouped))


def first_seen_source(
    conn: Connection, count: Counted, tenant: Tenant, rollup: Callable[[Table], FromClause]
) -> FromClause | None:
    """`finding_image_counts` columns (several rows per image: add them up) counting the
    findings of `count.statuses` first observed in its one `firstObservedAt` range (image
    criteria are left to the caller, on these columns); None for several ranges. `rollup`
    gives the table as the statement sees it (`pg_rollups.current`)."""
    found = _one_range(count)
    if found is None:
        return None
    whole, edges = split(found)
    parts: list[Select[Any]] = []
    if whole is not None:
        r = rollup(t.finding_image_first_counts)
        second = r.c.first_observed_second
        where = [
            r.c.account_id == tenant.account_id,
            r.c.region == tenant.region,
            r.c.status.in_(sorted(count.statuses)),
        ]
        if whole[0] is not None:
            where.append(second >= whole[0])
        if whole[1] is not None:
            where.append(second < whole[1])
        parts.append(select(*_image_columns(r)).where(*where))
    parts += [_edge(conn, tenant, count, low, high) for low, high in edges]
    if not parts:  # an empty range: nothing counts
        empty = select(*_image_columns(t.finding_image_counts)).where(
            t.finding_image_counts.c.status.in_([])
        )
        return empty.subquery("first_seen")
    return union_all(*parts).subquery("first_seen")


def _one_range(count: Counted) -> DateFilter | None:
    """The request's one `firstObservedAt` range; None for several (or none)."""
    ranges = () if count.rest is None else count.rest.dates.get("firstObservedAt", ())
    return ranges[0] if len(ranges) == 1 else None


_LAYER_COLUMNS = (
    "account_id", "region", "status", "repository_id", "digest", "layer_hash",
    "repository_name", *t.ROLLUP_SEVERITIES,
)  # fmt: skip
"""The columns of `finding_layer_counts` an IMAGE_LAYER aggregation reads."""


def _layer_columns(dialect: str, source: FromClause) -> list[ColumnElement[Any]]:
    """`_LAYER_COLUMNS` of `source`; on PostgreSQL the counts as integers, which it sums as
    bigint where it sums bigint as numeric: at 1,000,000 findings the caller's grouping of the
    last 7 days' 60,649 rows 120 -> 55 ms. (SQLite's integers are one type: a cast only costs.)"""
    if dialect != "postgresql":
        return [source.c[c] for c in _LAYER_COLUMNS]
    return [
        cast(source.c[c], Integer).label(c) if c in t.ROLLUP_SEVERITIES else source.c[c]
        for c in _LAYER_COLUMNS
    ]


def layer_first_seen_source(
    conn: Connection, count: Counted, tenant: Tenant, rollup: Callable[[Table], FromClause]
) -> FromClause | None:
    """`finding_layer_counts` columns (several rows per layer: add them up) counting the
    findings of `count.statuses` first observed in its one `firstObservedAt` range: the layer
    rollup's rows of the images wholly inside it, the findings in the range of the images it
    cuts (image criteria are left to the caller); None for several ranges."""
    found = _one_range(count)
    if found is None:
        return None
    whole, edges = split(found)
    r = rollup(t.finding_image_first_counts)
    second = r.c.first_observed_second
    inside: ColumnElement[bool] = false()
    if whole is not None:
        inside = and_(
            true() if whole[0] is None else second >= whole[0],
            true() if whole[1] is None else second < whole[1],
        )
    # the seconds an edge lies in (two when no whole second is inside the range)
    cut = [and_(second >= _floor(low), second <= _floor(high)) for low, high in edges]
    findings = sum((r.c[s] for s in t.ROLLUP_SEVERITIES[1:]), r.c[t.ROLLUP_SEVERITIES[0]])
    in_range = func.sum(case((inside, findings), else_=0))
    touched = func.sum(case((or_(inside, *cut), 1), else_=0)) > 0
    images = (
        select(
            r.c.repository_id,
            r.c.digest,
            and_(touched, in_range == func.sum(findings)).label("whole"),
            and_(touched, in_range < func.sum(findings)).label("cut"),
        )
        .where(
            r.c.account_id == tenant.account_id,
            r.c.region == tenant.region,
            r.c.status.in_(sorted(count.statuses)),
        )
        .group_by(r.c.repository_id, r.c.digest)
        .cte("images")
    )
    i = images.c
    whole_images = select(i.repository_id, i.digest).where(i.whole)
    cut_images = select(images).where(i.cut).subquery("cut")
    layers = rollup(t.finding_layer_counts)
    whole_rows = select(*_layer_columns(conn.dialect.name, layers)).where(
        layers.c.account_id == tenant.account_id,
        layers.c.region == tenant.region,
        layers.c.status.in_(sorted(count.statuses)),
        tuple_(layers.c.repository_id, layers.c.digest).in_(whole_images),
    )
    if conn.execute(select(func.count()).select_from(cut_images)).scalar_one() == 0:
        # no image to recount: the layer rollup's rows alone, which SQLite then groups in its
        # key's order; a union with the recount, even an empty one, is sorted for the grouping
        # (at 1,000,000 findings, the last 7 days: 165-172 -> 115-121 ms of CPU)
        return whole_rows.subquery("layer_first_seen")
    f = t.findings
    status = unindexed(f.c.status) if conn.dialect.name == "sqlite" else f.c.status
    where = [
        *of_tenant(conn, tenant),
        status.in_(sorted(count.statuses)),
        sql_filter(Criteria(dates={"firstObservedAt": (found,)})),
        image_keys_in(cut_images.c.repository_id, cut_images.c.digest, true()),
        tuple_(f.c.repository_id, f.c.digest).in_(
            select(cut_images.c.repository_id, cut_images.c.digest)
        ),
    ]
    recounted = Grouped(conn.dialect.name, tenant, where).layer().subquery("recounted")
    cut_rows = select(*_layer_columns(conn.dialect.name, recounted))
    return union_all(whole_rows, cut_rows).subquery("layer_first_seen")
