"""Coverage in SQL: covered images and repositories as one relation, filtered by Inspector's
`CoverageFilterCriteria` (semantics in `model.coverage_criteria`), paged by keyset, counted.

The relation is a UNION ALL of enhanced image scan states and (when enhanced scanning is on)
repositories. A repository's scan frequency comes from the registry scanning configuration,
translated to a CASE over LIKE patterns, so filters, pages and counts all run in the database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Subquery,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    union_all,
)

from dockwatch.model.coverage_criteria import (
    COVERED_DATE_KEYS,
    COVERED_STRING_KEYS,
    IMAGE,
    REPOSITORY,
    CoverageComparison,
    CoverageCriteria,
    CoverageRange,
    CoverageString,
    GroupKey,
)
from dockwatch.model.identity import Tenant, repository_arn
from dockwatch.model.times import as_utc_or_none
from dockwatch.storage.scan_repo import CoverageScope, CoverageSelection, CoveredResource
from dockwatch.storage.sql import tables as t

_s, _r, _m, _t = t.image_scans, t.repositories, t.manifests, t.tags


def _like(glob: str) -> str:
    """A whole-name glob (`*` any run) as a LIKE pattern with `\\` as the escape character."""
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def _frequency(name: Any, scope: CoverageScope) -> ColumnElement[str]:
    """The scan frequency of the repository called `name` under `scope`."""
    whens = [
        (or_(*(name.like(_like(g), escape="\\") for g in rule.globs)), literal(rule.frequency))
        for rule in scope.rules
        if rule.globs
    ]
    default = literal(scope.default_frequency)
    return case(*whens, else_=default) if whens else default


def covered(tenant: Tenant, scope: CoverageScope) -> Subquery:
    """Every covered resource of `tenant`, one row each."""
    frequency = _frequency(_r.c.name, scope)
    images = (
        select(
            literal(IMAGE).label("resource_type"),
            _s.c.repository_id,
            _r.c.name.label("repository"),
            _s.c.digest,
            _s.c.status_code,
            _s.c.reason,
            frequency.label("frequency"),
            _s.c.last_scanned_at,
            _m.c.last_pulled_at,
        )
        .join(_r, _r.c.id == _s.c.repository_id)
        .join(_m, (_m.c.repository_id == _s.c.repository_id) & (_m.c.digest == _s.c.digest))
        .where(
            _s.c.account_id == tenant.account_id,
            _s.c.region == tenant.region,
            _s.c.scan_type == "ENHANCED",  # coverage is enhanced scanning's
        )
    )
    if not scope.repositories:
        return images.subquery("covered")
    manual = frequency == "MANUAL"
    repositories = select(
        literal(REPOSITORY).label("resource_type"),
        _r.c.id.label("repository_id"),
        _r.c.name.label("repository"),
        literal("").label("digest"),
        case((manual, "INACTIVE"), else_="ACTIVE").label("status_code"),
        case((manual, "SCAN_FREQUENCY_MANUAL"), else_="SUCCESSFUL").label("reason"),
        frequency.label("frequency"),
        cast(null(), _s.c.last_scanned_at.type).label("last_scanned_at"),
        cast(null(), _m.c.last_pulled_at.type).label("last_pulled_at"),
    ).where(_r.c.account_id == tenant.account_id, _r.c.region == tenant.region)
    return union_all(images, repositories).subquery("covered")


def _string_column(c: Any, tenant: Tenant, key: str) -> ColumnElement[Any] | None:
    """The value a covered resource has for a string key (None: no resource has one)."""
    if key == "resourceId":
        arn: ColumnElement[Any] = literal(repository_arn(tenant, "")) + c.repository
        return arn + case((c.digest == "", ""), else_=literal("/") + c.digest)
    columns: dict[str, ColumnElement[Any]] = {
        "accountId": literal(tenant.account_id),
        "resourceType": c.resource_type,
        "scanType": literal("PACKAGE"),
        "scanStatusCode": c.status_code,
        "scanStatusReason": c.reason,
        "ecrRepositoryName": c.repository,
    }
    return columns.get(key)


def _string_test(c: Any, tenant: Tenant, key: str, f: CoverageString) -> ColumnElement[bool]:
    negate = f.comparison is CoverageComparison.NOT_EQUALS
    if key == "ecrImageTags":
        found = exists().where(
            _t.c.repository_id == c.repository_id,
            _t.c.manifest_digest == c.digest,
            _t.c.name == f.value,
        )
        return not_(found) if negate else found
    column = _string_column(c, tenant, key) if key in COVERED_STRING_KEYS else None
    if column is None:  # absent: fails EQUALS, passes NOT_EQUALS
        return true() if negate else false()
    return or_(column.is_(None), column != f.value) if negate else column == f.value


def _range_test(column: Any, r: CoverageRange) -> ColumnElement[bool]:
    tests = [column.is_not(None)]
    if r.low is not None:
        tests.append(column >= r.low)
    if r.high is not None:
        tests.append(column <= r.high)
    return and_(*tests)


def conditions(c: Any, tenant: Tenant, criteria: CoverageCriteria) -> list[ColumnElement[bool]]:
    """One condition per key of `criteria`, to be ANDed."""
    out: list[ColumnElement[bool]] = []
    for key, filters in criteria.strings.items():
        positive = [_string_test(c, tenant, key, f) for f in filters if f.comparison == "EQUALS"]
        negative = [_string_test(c, tenant, key, f) for f in filters if f.comparison != "EQUALS"]
        if positive:
            out.append(or_(*positive))
        out.extend(negative)
    dates = {"lastScannedAt": c.last_scanned_at, "imagePulledAt": c.last_pulled_at}
    for key, ranges in criteria.ranges.items():
        column = dates.get(key) if key in COVERED_DATE_KEYS else None
        out.append(false() if column is None else or_(*(_range_test(column, r) for r in ranges)))
    if criteria.maps:  # EC2, Lambda and multi-cloud tags: no ECR resource has them
        out.append(false())
    return out


def covered_page(
    conn: Connection, tenant: Tenant, selection: CoverageSelection
) -> list[CoveredResource]:
    """A page of covered resources (at most `limit` + 1) in (repository, digest) order."""
    sub = covered(tenant, selection.scope)
    c = sub.c
    q = select(sub).where(*conditions(c, tenant, selection.criteria))
    if selection.after is not None:
        name, digest = selection.after
        q = q.where((c.repository > name) | ((c.repository == name) & (c.digest > digest)))
    q = q.order_by(c.repository, c.digest).limit(selection.limit + 1)
    return [
        CoveredResource(
            r.resource_type,
            r.repository_id,
            r.repository,
            r.digest,
            r.status_code,
            r.reason,
            r.frequency,
            as_utc_or_none(r.last_scanned_at),
            as_utc_or_none(r.last_pulled_at),
        )  # fmt: skip
        for r in conn.execute(q)
    ]


def covered_counts(
    conn: Connection,
    tenant: Tenant,
    criteria: CoverageCriteria,
    scope: CoverageScope,
    group: GroupKey | None,
) -> tuple[int, list[tuple[str, int]]]:
    """(total, [(group value, count)]) of the covered resources meeting `criteria`."""
    sub = covered(tenant, scope)
    c = sub.c
    where = conditions(c, tenant, criteria)
    total = int(conn.execute(select(func.count()).select_from(sub).where(*where)).scalar_one())
    if group is None:
        return total, []
    if group is GroupKey.ACCOUNT_ID:
        return total, [(tenant.account_id, total)] if total else []
    column = {
        GroupKey.SCAN_STATUS_CODE: c.status_code,
        GroupKey.SCAN_STATUS_REASON: c.reason,
        GroupKey.RESOURCE_TYPE: c.resource_type,
        GroupKey.ECR_REPOSITORY_NAME: c.repository,
    }[group]
    rows = conn.execute(select(column, func.count()).where(*where).group_by(column)).all()
    return total, [(str(value), int(count)) for value, count in rows]
