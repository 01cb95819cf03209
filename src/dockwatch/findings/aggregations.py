"""Inspector's ListFindingAggregations over the findings store.

The types that apply to container images: REPOSITORY, AWS_ECR_CONTAINER (one image resource),
IMAGE_LAYER (one layer of one image resource), PACKAGE (package name), TITLE (a finding title
and its vulnerability id), FINDING_TYPE and ACCOUNT. The others (AMI, EC2, Lambda, code
repositories, the multi-cloud types) are accepted and answer no responses, as Inspector does for
resources an account does not have.

Counting rules:
- a finding counts once per group: once for each distinct layer hash and each distinct package
  name among its vulnerable packages (packages without a layer hash count in no layer);
- by default only ACTIVE findings count. Inspector's API reference does not say which statuses
  its aggregations count; its console, built on them, shows "only your active findings" by
  default (User Guide, "Viewing Amazon Inspector findings"). dockwatch's extension
  `filterCriteria` (ListFindings' FilterCriteria, `findingStatus` included) chooses otherwise,
  and narrows the counted findings by any other criterion;
- `severityCounts` carries every field of the current model (`all`, `critical`, `high`,
  `medium`, `low`, `informational`, `untriaged`); `all` counts every severity;
- `affectedImages` (REPOSITORY, and TITLE as a dockwatch addition) counts distinct image
  resources; `fixAvailableCount` counts findings whose fixAvailable is YES or PARTIAL (a fix
  exists for at least one of its packages); `exploitAvailableCount` exploitAvailable YES;
- a group with no counted finding does not appear.

String filters follow `findings.criteria` (EQUALS/PREFIX ORed, NOT_EQUALS ANDed, exact and
case-sensitive); `imageTags` holds when some tag matches (NOT_EQUALS: no tag equals).

Results are sorted by `sortBy` (CRITICAL by default) in `sortOrder` (DESC by default), ties by
the group key ascending, and paged by keyset: `nextToken` carries the last (count, key) and a
fingerprint of the request, so a token is refused for any other request and a page never
repeats or skips a group that did not change meanwhile.

Counts come from the rollup tables (`storage/sql/rollups.py`) when the request filters only on
what they keep (status, severity and the aggregation request's own filters); other criteria run
the same grouped queries over `findings`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    and_,
    asc,
    case,
    desc,
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)

from dockwatch.errors import InvalidInput
from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc_or_none
from dockwatch.storage.sql import rollups
from dockwatch.storage.sql import tables as t

from .aggregation_request import (
    MAX_RESULTS,
    MEMBERS,
    OTHER_MEMBERS,
    SORT_BY,
    AggregationQuery,
    parse_request,
    query_from_params,
)
from .criteria import (
    FINDING_TYPE,
    RESOURCE_TYPE,
    SEVERITIES,
    STATUSES,
    Comparison,
    Criteria,
    DateFilter,
    StringFilter,
    sql_filter,
)

logger = logging.getLogger(__name__)

_COUNTS = ("critical", "high", "medium", "low", "informational", "untriaged")
_SORT_COLUMN = {"CRITICAL": "critical", "HIGH": "high", "ALL": "all_", "AFFECTED_IMAGES": "images"}
_ROLLUP_KEYS = frozenset({"findingStatus", "severity", "findingType", "resourceType"})
"""Criteria keys the rollups answer (status and severity are rollup columns, the others are
constants for container-image findings)."""


# --- evaluation ----------------------------------------------------------------------------------


def _holds(filters: Sequence[StringFilter], value: str | None) -> bool:
    """One key's filters on one value (criteria's semantics)."""
    positive = [f for f in filters if f.comparison is not Comparison.NOT_EQUALS]
    if positive and not any(f.test(value) for f in positive):
        return False
    return all(f.test(value) for f in filters if f.comparison is Comparison.NOT_EQUALS)


def _compare(column: ColumnElement[Any], f: StringFilter) -> ColumnElement[bool]:
    if f.comparison is Comparison.EQUALS:
        return column == f.value
    if f.comparison is Comparison.PREFIX:  # exact and case-sensitive, unlike SQLite's LIKE
        return func.substr(column, 1, len(f.value)) == f.value
    return column != f.value


def _sql(filters: Sequence[StringFilter], column: ColumnElement[Any]) -> ColumnElement[bool]:
    positive = [_compare(column, f) for f in filters if f.comparison is not Comparison.NOT_EQUALS]
    negative = [_compare(column, f) for f in filters if f.comparison is Comparison.NOT_EQUALS]
    return and_(or_(*positive) if positive else true(), *negative)


def _tagged(filters: Sequence[StringFilter], source: FromClause) -> ColumnElement[bool]:
    tg = t.tags

    def has(f: StringFilter) -> ColumnElement[bool]:
        test = (
            tg.c.name == f.value
            if f.comparison is not Comparison.PREFIX
            else func.substr(tg.c.name, 1, len(f.value)) == f.value
        )
        found = exists(
            select(literal(1)).where(
                tg.c.repository_id == source.c.repository_id,
                tg.c.manifest_digest == source.c.digest,
                test,
            )
        )
        return ~found if f.comparison is Comparison.NOT_EQUALS else found

    positive = [has(f) for f in filters if f.comparison is not Comparison.NOT_EQUALS]
    negative = [has(f) for f in filters if f.comparison is Comparison.NOT_EQUALS]
    return and_(or_(*positive) if positive else true(), *negative)


def _in_use(filters: Sequence[DateFilter], source: FromClause) -> ColumnElement[bool]:
    """lastInUseAt: dockwatch has no runtime reports, so (as for the LAST_IN_USE_AT re-scan
    mode) the last pull stands for it; an image never pulled matches no range."""
    m = t.manifests
    ranges = []
    for d in filters:
        parts: list[ColumnElement[bool]] = [m.c.last_pulled_at.is_not(None)]
        if d.start is not None:
            parts.append(m.c.last_pulled_at >= d.start)
        if d.end is not None:
            parts.append(m.c.last_pulled_at <= d.end)
        ranges.append(and_(*parts))
    return exists(
        select(literal(1)).where(
            m.c.repository_id == source.c.repository_id,
            m.c.digest == source.c.digest,
            or_(*ranges),
        )
    )


def image_arn(tenant: Tenant, repository: str, digest: str) -> str:
    """Inspector's resource id of an ECR image."""
    return f"arn:aws:ecr:{tenant.region}:{tenant.account_id}:repository/{repository}/{digest}"


@dataclass(frozen=True, slots=True)
class _Plan:
    grain: str
    keys: tuple[str, ...]
    """The group's key as answered, sorted on and carried by tokens."""
    group: tuple[str, ...] = ()
    """The source columns grouped on (default: `keys`); other keys are functions of them.
    Grouping an image on (repository_id, digest) follows the rollup's primary key order."""


_PLANS = {
    "REPOSITORY": _Plan("image", ("repository_name",)),
    "AWS_ECR_CONTAINER": _Plan("image", ("repository_name", "digest"), ("repository_id", "digest")),
    "IMAGE_LAYER": _Plan(
        "layer",
        ("repository_name", "digest", "layer_hash"),
        ("repository_id", "digest", "layer_hash"),
    ),
    "PACKAGE": _Plan("package", ("package_name",)),
    "TITLE": _Plan("title", ("title", "vulnerability_id")),
    "FINDING_TYPE": _Plan("image", ("account_id",)),
    "ACCOUNT": _Plan("image", ("account_id",)),
}
_TABLES = {
    "image": t.finding_image_counts,
    "layer": t.finding_layer_counts,
    "package": t.finding_package_counts,
    "title": t.finding_title_counts,
}


@dataclass(frozen=True, slots=True)
class _Counted:
    """Which findings count: statuses and severities (None: all) and the rest of the criteria
    (None when the rollups can answer)."""

    statuses: frozenset[str]
    severities: frozenset[str] | None
    rest: Criteria | None
    excluded: bool


def _counted(criteria: Criteria) -> _Counted:
    status_filters = criteria.strings.get("findingStatus")
    statuses = frozenset(
        s for s in STATUSES if status_filters is None or _holds(status_filters, s)
    ) if status_filters is not None else frozenset({"ACTIVE"})  # fmt: skip
    severity_filters = criteria.strings.get("severity")
    severities = (
        None
        if severity_filters is None
        else frozenset(s for s in SEVERITIES if _holds(severity_filters, s))
    )
    excluded = not _holds(criteria.strings.get("findingType", ()), FINDING_TYPE) or not _holds(
        criteria.strings.get("resourceType", ()), RESOURCE_TYPE
    )
    simple = (
        set(criteria.strings) <= _ROLLUP_KEYS
        and not criteria.dates
        and not criteria.numbers
        and not criteria.packages
    )
    return _Counted(statuses, severities, None if simple else criteria, excluded)


def _source(
    conn: Connection, kind: str, grain: str, counted: _Counted, tenant: Tenant
) -> FromClause:
    """The rollup table, or the same columns grouped from `findings` with the criteria applied
    (other criteria; no triggers; or fix and exploit counts of some severities only, which the
    image rollup does not split by severity)."""
    by_severity = counted.severities is not None and kind in ("FINDING_TYPE", "ACCOUNT")
    if counted.rest is None and not by_severity and rollups.enabled(conn):
        return _TABLES[grain]
    f = t.findings
    where = [
        f.c.account_id == tenant.account_id,
        f.c.region == tenant.region,
        f.c.status.in_(sorted(counted.statuses)),
    ]
    if counted.rest is not None:
        where.append(sql_filter(counted.rest))
    if counted.severities is not None:
        where.append(f.c.severity.in_(sorted(counted.severities)))
    if grain == "image":
        return rollups.image_source(where).subquery("src")
    if grain == "layer":
        return rollups.layer_source(where).subquery("src")
    if grain == "package":
        return rollups.package_source(where).subquery("src")
    return rollups.title_source(conn.dialect.name, where).subquery("src")


def _fingerprint(query: AggregationQuery) -> str:
    doc = {
        "type": query.type,
        "strings": {
            k: [[f.comparison.value, f.value] for f in v] for k, v in query.strings.items()
        },
        "lastInUse": [
            [
                None if d.start is None else d.start.isoformat(),
                None if d.end is None else d.end.isoformat(),
            ]
            for d in query.last_in_use
        ],  # fmt: skip
        "findingType": query.finding_type,
        "resourceType": query.resource_type,
        "accounts": [[f.comparison.value, f.value] for f in query.accounts],
        "criteria": query.criteria.to_wire(),
        "sort": [query.sort_by, query.sort_order],
    }
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()[:24]


def _bad_token(message: str) -> InvalidInput:
    return InvalidInput(f"nextToken: {message}")


def _encode_token(fingerprint: str, last: Sequence[Any]) -> str:
    raw = json.dumps({"f": fingerprint, "k": list(last)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(query: AggregationQuery, fingerprint: str, width: int) -> list[Any]:
    assert query.next_token is not None
    try:
        raw = base64.urlsafe_b64decode(query.next_token + "=" * (-len(query.next_token) % 4))
        doc = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad_token("is not a token this API issued") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("k"), list):
        raise _bad_token("is not a token this API issued")
    if doc.get("f") != fingerprint:
        raise _bad_token("was issued for another request (type, filters or sort differ)")
    last = doc["k"]
    if (
        len(last) != width
        or isinstance(last[0], bool)
        or not isinstance(last[0], int)
        or not all(isinstance(v, str) for v in last[1:])
    ):
        raise _bad_token("is not a token this API issued")
    return list(last)


def _filters(
    query: AggregationQuery, source: FromClause, tenant: Tenant
) -> list[ColumnElement[bool]]:
    c = source.c
    out: list[ColumnElement[bool]] = []
    for name, filters in query.strings.items():
        if name == "repositories":
            out.append(_sql(filters, c.repository_name))
        elif name == "imageShas":
            out.append(_sql(filters, c.digest))
        elif name == "layerHashes":
            out.append(_sql(filters, c.layer_hash))
        elif name == "packageNames":
            out.append(_sql(filters, c.package_name))
        elif name == "titles":
            out.append(_sql(filters, c.title))
        elif name == "vulnerabilityIds":
            out.append(_sql(filters, c.vulnerability_id))
        elif name == "imageTags":
            out.append(_tagged(filters, source))
        elif name == "resourceIds":
            prefix = f"arn:aws:ecr:{tenant.region}:{tenant.account_id}:repository/"
            arn = literal(prefix) + c.repository_name + "/" + c.digest
            out.append(_sql(filters, arn))
    if query.last_in_use:
        out.append(_in_use(query.last_in_use, source))
    return out


def aggregate(conn: Connection, tenant: Tenant, query: AggregationQuery) -> dict[str, Any]:
    """The ListFindingAggregations response for `query` (raises InvalidInput on a bad token)."""
    out: dict[str, Any] = {"aggregationType": query.type, "responses": []}
    plan = _PLANS.get(query.type)
    fingerprint = _fingerprint(query)
    after = (
        None
        if query.next_token is None
        else _decode_token(query, fingerprint, 1 + (len(plan.keys) if plan else 0))
    )
    counted = _counted(query.criteria)
    if (
        plan is None
        or counted.excluded
        or query.finding_type not in (None, FINDING_TYPE)
        or query.resource_type not in (None, RESOURCE_TYPE)
        or not _holds(query.accounts, tenant.account_id)
        or not counted.statuses
        or counted.severities == frozenset()
    ):
        return out
    source = _source(conn, query.type, plan.grain, counted, tenant)
    c = source.c
    where = [
        c.account_id == tenant.account_id,
        c.region == tenant.region,
        c.status.in_(sorted(counted.statuses)),
        *_filters(query, source, tenant),
    ]
    group = [c[k] for k in plan.group or plan.keys]
    columns: list[ColumnElement[Any]] = [
        c[k] if k in (plan.group or plan.keys) else func.max(c[k]).label(k) for k in plan.keys
    ]
    chosen = [n for n in _COUNTS if counted.severities is None or n.upper() in counted.severities]
    columns += [
        (func.coalesce(func.sum(c[name]), 0) if name in chosen else literal(0)).label(name)
        for name in _COUNTS
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
    page = rows[: query.max_results]
    out["responses"] = _shape(conn, tenant, query, counted, page)
    if len(rows) > query.max_results:
        last = page[-1]._mapping
        out["nextToken"] = _encode_token(
            fingerprint, [int(last[_SORT_COLUMN[query.sort_by]]), *[last[k] for k in plan.keys]]
        )
    return out


def _severity_counts(row: Mapping[str, Any]) -> dict[str, int]:
    return {"all": int(row["all_"]), **{name: int(row[name]) for name in _COUNTS}}


def _shape(
    conn: Connection,
    tenant: Tenant,
    query: AggregationQuery,
    counted: _Counted,
    page: Sequence[Any],
) -> list[dict[str, Any]]:
    rows = [r._mapping for r in page]
    account = tenant.account_id
    if query.type == "REPOSITORY":
        return [
            {"repositoryAggregation": {
                "repository": r["repository_name"], "accountId": account,
                "severityCounts": _severity_counts(r), "affectedImages": int(r["images"]),
            }}
            for r in rows
        ]  # fmt: skip
    if query.type == "AWS_ECR_CONTAINER":
        images = _image_facts(conn, [(r["repository_id"], r["digest"]) for r in rows])
        out = []
        for r in rows:
            tags, pulled = images.get((r["repository_id"], r["digest"]), ([], None))
            item: dict[str, Any] = {
                "resourceId": image_arn(tenant, r["repository_name"], r["digest"]),
                "imageSha": r["digest"],
                "repository": r["repository_name"],
                "imageTags": tags,
                "accountId": account,
                "severityCounts": _severity_counts(r),
            }
            if pulled is not None:
                item["lastInUseAt"] = pulled
            out.append({"awsEcrContainerAggregation": item})
        return out
    if query.type == "IMAGE_LAYER":
        return [
            {"imageLayerAggregation": {
                "repository": r["repository_name"],
                "resourceId": image_arn(tenant, r["repository_name"], r["digest"]),
                "layerHash": r["layer_hash"], "accountId": account,
                "severityCounts": _severity_counts(r),
            }}
            for r in rows
        ]  # fmt: skip
    if query.type == "PACKAGE":
        return [
            {"packageAggregation": {
                "packageName": r["package_name"], "accountId": account,
                "severityCounts": _severity_counts(r),
            }}
            for r in rows
        ]  # fmt: skip
    if query.type == "TITLE":
        distinct_images = _title_images(conn, tenant, counted, rows)
        return [
            {"titleAggregation": {
                "title": r["title"], "vulnerabilityId": r["vulnerability_id"],
                "accountId": account, "severityCounts": _severity_counts(r),
                "affectedImages": distinct_images.get(
                    (r["title"], r["vulnerability_id"]), int(r["all_"])
                ),
            }}
            for r in rows
        ]  # fmt: skip
    member = MEMBERS[query.type]
    return [
        {member: {
            "accountId": account, "severityCounts": _severity_counts(r),
            "exploitAvailableCount": int(r["exploit"]), "fixAvailableCount": int(r["fix"]),
        }}
        for r in rows
    ]  # fmt: skip


def _image_facts(
    conn: Connection, images: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], tuple[list[str], str | None]]:
    """Tags and last pull of the images of one page."""
    wanted = sorted(set(images))
    if not wanted:
        return {}
    tags: dict[tuple[int, str], list[str]] = {}
    tg, m = t.tags, t.manifests
    for row in conn.execute(
        select(tg.c.repository_id, tg.c.manifest_digest, tg.c.name)
        .where(tuple_(tg.c.repository_id, tg.c.manifest_digest).in_(wanted))
        .order_by(tg.c.name)
    ):
        tags.setdefault((row.repository_id, row.manifest_digest), []).append(row.name)
    out: dict[tuple[int, str], tuple[list[str], str | None]] = {}
    for row in conn.execute(
        select(m.c.repository_id, m.c.digest, m.c.last_pulled_at).where(
            tuple_(m.c.repository_id, m.c.digest).in_(wanted)
        )
    ):
        pulled = as_utc_or_none(row.last_pulled_at)
        out[(row.repository_id, row.digest)] = (
            tags.get((row.repository_id, row.digest), []),
            None if pulled is None else pulled.isoformat(),
        )
    for key in wanted:
        out.setdefault(key, (tags.get(key, []), None))
    return out


def _title_images(
    conn: Connection, tenant: Tenant, counted: _Counted, rows: Sequence[Mapping[str, Any]]
) -> dict[tuple[str, str], int]:
    """Distinct images per (title, vulnerability id) of one page, when counting findings is
    not the same: only CLOSED findings repeat for one image (one per past generation)."""
    if "CLOSED" not in counted.statuses or not rows:
        return {}
    f, d = t.findings, t.finding_details
    title = func.coalesce(rollups.title_expression(conn.dialect.name), f.c.vulnerability_id)
    where = [
        f.c.account_id == tenant.account_id,
        f.c.region == tenant.region,
        f.c.status.in_(sorted(counted.statuses)),
        f.c.vulnerability_id.in_(sorted({r["vulnerability_id"] for r in rows})),
    ]
    if counted.severities is not None:
        where.append(f.c.severity.in_(sorted(counted.severities)))
    if counted.rest is not None:
        where.append(sql_filter(counted.rest))
    image = f.c.repository_name + "@" + f.c.digest
    query = (
        select(title.label("title"), f.c.vulnerability_id, func.count(distinct(image)))
        .join_from(f, d, d.c.ref == f.c.detail_ref)
        .where(*where)
        .group_by(title, f.c.vulnerability_id)
    )
    return {(r[0], r[1]): int(r[2]) for r in conn.execute(query)}


__all__ = [
    "MAX_RESULTS",
    "MEMBERS",
    "OTHER_MEMBERS",
    "SORT_BY",
    "AggregationQuery",
    "aggregate",
    "image_arn",
    "parse_request",
    "query_from_params",
]
