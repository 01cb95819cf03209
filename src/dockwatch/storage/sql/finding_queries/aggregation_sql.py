"""ListFindingAggregations in SQL: grouped counts by severity, one keyset page at a time.

Counts come from the rollup tables (`storage/sql/rollups.py`) when the request filters only on
what they keep (status, severity and the aggregation request's own filters), and from the image
and layer rollups filtered by their image columns when the other criteria only choose images
(repository, digest, tags, push time: at 1,000,000 findings 2-13 ms of CPU instead of 0.25-0.45
s); criteria on what a finding is (fix, exploit, scores, vulnerability, title, packages) sum the
detail rollup (`aggregation_details.py`) for ACCOUNT, FINDING_TYPE, PACKAGE and TITLE, and fix
or exploit criteria (with image ones) the image fix rollup for REPOSITORY and AWS_ECR_CONTAINER
and the layer rollup (keyed by fix and exploit availability too) for IMAGE_LAYER;
`inspectorScore` ranges (with image criteria) the image score rollup for REPOSITORY and
AWS_ECR_CONTAINER;
a `firstObservedAt` range (with image criteria) at the grains of an image sums the image
first-seen rollup (`aggregation_first_seen.py`: the range's cut seconds recounted), and for
IMAGE_LAYER the layer rollup's rows of the images wholly inside the range (the images it cuts
recounted);
criteria on the detail document, or on a finding's own columns where the findings of each
chosen detail agree on them (with image ones), at the grains of an image come from the
findings' detail index (`aggregation_images.py`); a filter on a finding's dates, scores or
source that drops few findings, beside criteria a rollup or that index answers, is their answer
less the findings it drops (`aggregation_complement.py`); other criteria run the same grouped
queries over `findings` (`aggregation_scan.py`). Groups are sorted by the chosen count, ties by
the group key ascending; a page starts after (count, *key) of the previous page's last group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    RowMapping,
    Select,
    Table,
    and_,
    asc,
    case,
    desc,
    distinct,
    func,
    literal,
    or_,
    select,
    tuple_,
)

from dockwatch.model.finding_aggregation import AGGREGATION_KEYS, AggregationQuery
from dockwatch.model.finding_criteria import FINDING_TYPE, RESOURCE_TYPE, strings_hold
from dockwatch.model.finding_sort import SEVERITY_RANK
from dockwatch.model.identity import Tenant
from dockwatch.storage.finding_query_repo import AggregationGroup, AggregationPage
from dockwatch.storage.sql import pg_rollups, rollups
from dockwatch.storage.sql import tables as t
from dockwatch.value_class import frozen

from .aggregation_complement import Complement, Routed, complement_source
from .aggregation_details import FromDetails
from .aggregation_filters import Counted, counted, request_filters
from .aggregation_first_seen import first_seen_source, layer_first_seen_source
from .aggregation_images import detail_index_source
from .aggregation_scan import Grouped
from .criteria_sql import on_source, sql_filter, unindexed
from .images import tags_and_last_pull
from .tenant_sql import of_tenant

COUNTS = ("critical", "high", "medium", "low", "informational", "untriaged")
_SORT_COLUMN = {"CRITICAL": "critical", "HIGH": "high", "ALL": "all_", "AFFECTED_IMAGES": "images"}


@frozen
class _Plan:
    grain: str
    keys: tuple[str, ...]
    """The group's key as answered, sorted on and carried by tokens."""
    group: tuple[str, ...] = ()
    """The source columns grouped on (default: `keys`); other keys are functions of them.
    Grouping an image on (repository_id, digest) follows the rollup's primary key order."""


_GRAINS = {
    "REPOSITORY": ("image", ()),
    "AWS_ECR_CONTAINER": ("image", ("repository_id", "digest")),
    "IMAGE_LAYER": ("layer", ("repository_id", "digest", "layer_hash")),
    "PACKAGE": ("package", ()),
    "TITLE": ("title", ()),
    "FINDING_TYPE": ("image", ()),
    "ACCOUNT": ("image", ()),
}
_PLANS = {
    kind: _Plan(grain, AGGREGATION_KEYS[kind], group) for kind, (grain, group) in _GRAINS.items()
}
_TABLES = {
    "image": t.finding_image_counts,
    "layer": t.finding_layer_counts,
    "package": t.finding_package_counts,
    "title": t.finding_title_counts,
}


def _source(conn: Connection, kind: str, grain: str, count: Counted, tenant: Tenant) -> Routed:
    """The rows to group and the conditions on them: a rollup table (criteria that only
    choose images filter its rows by the images' columns); a rollup's answer without a filter
    that keeps nearly every finding, less the findings it drops (`aggregation_complement.py`);
    or the same columns grouped from `findings` with the criteria applied (other criteria; no
    triggers; or fix and exploit counts of some severities only, which the image rollup does
    not split by severity)."""
    if rollups.enabled(conn):
        # PostgreSQL: the count log's rows not folded yet count too (`pg_rollups.py`)
        log = conn.dialect.name == "postgresql" and pg_rollups.settle(conn)

        def rollup(table: Table) -> FromClause:
            return pg_rollups.current(table, log)

        routes = _Routes(conn, kind, grain, tenant, rollup)
        found = routes.by_rollup(count)
        if found is not None:
            return found
        netted = complement_source(
            conn,
            Complement(kind, grain, count, tenant),
            routes.by_rollup_or_index,
            lambda without, drops: _scan_source(conn, kind, grain, without, tenant, drops),
        )
        if netted is not None:
            return netted
        found = routes.by_index(count)
        if found is not None:
            return found
    return _scan_source(conn, kind, grain, count, tenant), []


@frozen
class _Routes:
    """The ways one request's counts are read without a finding per row: from a rollup, or at
    the grains of an image from the findings' detail index. `rollup` gives a table as the
    statement sees it (`pg_rollups.current`)."""

    conn: Connection
    kind: str
    grain: str
    tenant: Tenant
    rollup: Callable[[Table], FromClause]

    def by_rollup(self, count: Counted) -> Routed | None:
        """The rollup that answers `count` at this grain, and the conditions on its rows; None
        when none does."""
        conn, kind, grain, tenant, rollup = (
            self.conn, self.kind, self.grain, self.tenant, self.rollup
        )  # fmt: skip
        by_severity = count.severities is not None and kind in ("FINDING_TYPE", "ACCOUNT")
        if not by_severity and count.rest is None:
            return rollup(_TABLES[grain]), []
        if not by_severity and count.images_only and grain in ("image", "layer"):
            table = rollup(_TABLES[grain])
            return table, [on_source(sql_filter(count.image_criteria()), table)]
        if count.images_and_fixes_only and kind in _FIX_TABLES:
            table = rollup(_FIX_TABLES[kind])
            return table, [on_source(sql_filter(count.image_fix_criteria()), table)]
        if count.images_and_scores_only and kind in ("REPOSITORY", "AWS_ECR_CONTAINER"):
            table = rollup(t.finding_image_score_counts)
            return table, [on_source(sql_filter(count.image_score_criteria()), table)]
        if not by_severity and count.images_and_first_seen_only and grain in ("image", "layer"):
            read = first_seen_source if grain == "image" else layer_first_seen_source
            found = read(conn, count, tenant, rollup)
            if found is not None:
                return found, [on_source(sql_filter(count.image_criteria()), found)]
        if (count.rest is None or count.details_only) and kind in _FROM_DETAILS:
            rows = rollup(t.finding_detail_counts)
            src = _from_details(kind, count, tenant, conn.dialect.name, rows)
            return src.subquery("src"), []
        return None

    def by_index(self, count: Counted) -> Routed | None:
        """The findings' detail index grouped per image (`aggregation_images.py`) for criteria
        on details and images at the grains of an image; None where it does not answer."""
        if not count.details_and_images_only or self.kind not in _IMAGE_KINDS:
            return None
        found = detail_index_source(self.conn, self.grain, count, self.tenant, self.rollup)
        if found is None:
            return None
        return found, [on_source(sql_filter(count.image_criteria()), found)]

    def by_rollup_or_index(self, count: Counted) -> Routed | None:
        return self.by_rollup(count) or self.by_index(count)


def _scan_source(
    conn: Connection,
    kind: str,
    grain: str,
    count: Counted,
    tenant: Tenant,
    also: ColumnElement[bool] | None = None,
) -> FromClause:
    """The grain's rollup columns grouped from `findings` meeting `count` (and `also`)."""
    f = t.findings
    status: ColumnElement[Any] = f.c.status
    sqlite = conn.dialect.name == "sqlite"
    indexed = True
    most = "ACTIVE" in count.statuses and count.severities is None
    if sqlite and (most or also is not None):
        # most findings are ACTIVE: reading them through a tenant or status index costs a
        # table lookup each (1.8 s at 1,000,000 findings against 1.0 s for a plain scan), so
        # only an index of the other criteria (an image, a vulnerability, a package, or the
        # column of `also`, which names the tenant key itself) may drive
        indexed, status = False, unindexed(status)
    where = [
        *of_tenant(conn, tenant, indexed=indexed),
        status.in_(sorted(count.statuses)),
    ]
    if count.rest is not None:
        where.append(sql_filter(count.rest))
    if count.severities is not None:
        where.append(f.c.severity.in_(sorted(count.severities)))
        # the rank too, so that `ix_findings_status_rank` seeks to those severities
        where.append(f.c.severity_rank.in_(sorted({SEVERITY_RANK[s] for s in count.severities})))
    if also is not None:
        where.append(also)
    grouped = Grouped(conn.dialect.name, tenant, where)
    if kind in ("FINDING_TYPE", "ACCOUNT"):  # no image filter applies: one row per status
        return grouped.account().subquery("src")
    sources = {
        "image": grouped.image,
        "layer": grouped.layer,
        "package": grouped.package,
        "title": grouped.title,
    }
    return sources[grain]().subquery("src")


_FIX_TABLES = {
    "REPOSITORY": t.finding_image_fix_counts,
    "AWS_ECR_CONTAINER": t.finding_image_fix_counts,
    "IMAGE_LAYER": t.finding_layer_counts,
}
"""The rollup keyed by fix and exploit availability that answers each image grain filtered on
them (and on images): its rows meeting the filter are summed."""
_FROM_DETAILS = ("ACCOUNT", "FINDING_TYPE", "PACKAGE", "TITLE")
"""Aggregation types the detail rollup answers (not those of an image)."""
_IMAGE_KINDS = ("REPOSITORY", "AWS_ECR_CONTAINER", "IMAGE_LAYER")
"""Aggregation types grouped by image, which the findings' detail index answers."""


def _from_details(
    kind: str, count: Counted, tenant: Tenant, dialect: str, rows: FromClause
) -> Select[Any]:
    """The grain's columns summed from the detail rollup's `rows` meeting the criteria."""
    details = FromDetails(
        tenant, count.statuses, [on_source(sql_filter(count.detail_criteria()), rows)], rows
    )
    if kind == "PACKAGE":
        return details.package(dialect)
    if kind == "TITLE":
        return details.title()
    return details.account(count.severities)


def _answers_nothing(query: AggregationQuery, count: Counted, tenant: Tenant) -> bool:
    return (
        count.excluded
        or query.finding_type not in (None, FINDING_TYPE)
        or query.resource_type not in (None, RESOURCE_TYPE)
        or not strings_hold(query.accounts, tenant.account_id)
        or not count.statuses
        or count.severities == frozenset()
    )


def aggregate(
    conn: Connection, tenant: Tenant, query: AggregationQuery, after: Sequence[Any] | None
) -> AggregationPage:
    """One page of `query`'s groups after (count, *key) `after`."""
    plan = _PLANS.get(query.type)
    count = counted(query.criteria)
    if plan is None or _answers_nothing(query, count, tenant):
        return AggregationPage()
    source, chosen_images = _source(conn, query.type, plan.grain, count, tenant)
    c = source.c
    where = [
        c.account_id == tenant.account_id,
        c.region == tenant.region,
        c.status.in_(sorted(count.statuses)),
        *chosen_images,
        *request_filters(query, source, tenant),
    ]
    group = [c[k] for k in plan.group or plan.keys]
    columns: list[ColumnElement[Any]] = [
        c[k] if k in (plan.group or plan.keys) else func.max(c[k]).label(k) for k in plan.keys
    ]
    chosen = [n for n in COUNTS if count.severities is None or n.upper() in count.severities]
    columns += [
        (func.coalesce(func.sum(c[name]), 0) if name in chosen else literal(0)).label(name)
        for name in COUNTS
    ]
    counted_here = sum((c[n] for n in chosen[1:]), c[chosen[0]]) if chosen else literal(0)
    total = func.coalesce(func.sum(counted_here), 0)
    columns.append(total.label("all_"))
    if query.type == "REPOSITORY":
        image = case((counted_here > 0, c.digest), else_=None)
        columns.append(func.count(distinct(image)).label("images"))
    if query.type in ("FINDING_TYPE", "ACCOUNT"):
        columns.append(func.sum(c.fix_yes + c.fix_partial).label("fix"))
        columns.append(func.sum(c.exploit_yes).label("exploit"))
    if query.type == "AWS_ECR_CONTAINER":
        columns.append(c.repository_id)
    grouped = select(*columns).where(*where).group_by(*group).having(total > 0).subquery("g")
    g = grouped.c
    sort = g[_SORT_COLUMN[query.sort_by]]
    group_key = [g[k] for k in plan.keys]
    stmt = select(grouped)
    if after is not None:
        beyond = sort < after[0] if query.sort_order == "DESC" else sort > after[0]
        later = tuple_(*group_key) > tuple_(*[literal(v) for v in after[1:]])
        stmt = stmt.where(or_(beyond, and_(sort == after[0], later)))
    order = desc(sort) if query.sort_order == "DESC" else asc(sort)
    rows = conn.execute(
        stmt.order_by(order, *[asc(k) for k in group_key]).limit(query.max_results + 1)
    ).all()
    page = [r._mapping for r in rows[: query.max_results]]
    groups = _groups(conn, tenant, query, plan, count, page)
    return AggregationPage(groups, len(rows) > query.max_results)


def _groups(
    conn: Connection,
    tenant: Tenant,
    query: AggregationQuery,
    plan: _Plan,
    count: Counted,
    rows: Sequence[RowMapping],
) -> list[AggregationGroup]:
    images = (
        tags_and_last_pull(conn, [(r["repository_id"], r["digest"]) for r in rows])
        if query.type == "AWS_ECR_CONTAINER"
        else {}
    )
    titles = _title_images(conn, tenant, count, rows) if query.type == "TITLE" else {}
    out = []
    sort_column = _SORT_COLUMN[query.sort_by]
    for r in rows:
        key = {k: r[k] for k in plan.keys}
        image = (r["repository_id"], r["digest"]) if query.type == "AWS_ECR_CONTAINER" else None
        tags, pulled = images[image] if image is not None else ((), None)
        affected = None
        if query.type == "REPOSITORY":
            affected = int(r["images"])
        elif query.type == "TITLE":
            affected = titles.get((r["title"], r["vulnerability_id"]), int(r["all_"]))
        fixes = query.type in ("FINDING_TYPE", "ACCOUNT")
        out.append(
            AggregationGroup(
                key=key,
                position=(int(r[sort_column]), *key.values()),
                counts={"all": int(r["all_"]), **{name: int(r[name]) for name in COUNTS}},
                affected_images=affected,
                fix_available=int(r["fix"]) if fixes else None,
                exploit_available=int(r["exploit"]) if fixes else None,
                tags=tags,
                last_in_use=pulled,
            )
        )
    return out


def _title_images(
    conn: Connection, tenant: Tenant, count: Counted, rows: Sequence[RowMapping]
) -> dict[tuple[str, str], int]:
    """Distinct images per (title, vulnerability id) of one page, when counting findings is
    not the same: only CLOSED findings repeat for one image (one per past generation)."""
    if "CLOSED" not in count.statuses or not rows:
        return {}
    f, d = t.findings, t.finding_details
    title = func.coalesce(rollups.title_expression(conn.dialect.name), f.c.vulnerability_id)
    # the page's vulnerabilities drive (tenant key, vulnerability id), not the status index
    status = unindexed(f.c.status) if conn.dialect.name == "sqlite" else f.c.status
    where = [
        *of_tenant(conn, tenant),
        status.in_(sorted(count.statuses)),
        f.c.vulnerability_id.in_(sorted({r["vulnerability_id"] for r in rows})),
    ]
    if count.severities is not None:
        where.append(f.c.severity.in_(sorted(count.severities)))
    if count.rest is not None:
        where.append(sql_filter(count.rest))
    image = f.c.repository_name + "@" + f.c.digest
    query = (
        select(title.label("title"), f.c.vulnerability_id, func.count(distinct(image)))
        .join_from(f, d, d.c.ref == f.c.detail_ref)
        .where(*where)
        .group_by(title, f.c.vulnerability_id)
    )
    return {(r[0], r[1]): int(r[2]) for r in conn.execute(query)}
