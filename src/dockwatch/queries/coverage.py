"""Inspector's ListCoverage and ListCoverageStatistics over the stored scan state.

Covered resources are enhanced scanning's image resources (`AWS_ECR_CONTAINER_IMAGE`, their
scan status as the scanner recorded it) and, while enhanced scanning is on, every repository
(`AWS_ECR_REPOSITORY`): ACTIVE / SUCCESSFUL when its scan frequency is CONTINUOUS_SCAN or
SCAN_ON_PUSH, INACTIVE / SCAN_FREQUENCY_MANUAL when no rule names it. Filters, keyset pages
and counts run in the database (`storage/sql/coverage.py`).
"""

from __future__ import annotations

from typing import Any

from dockwatch.errors import InvalidInput
from dockwatch.model import page_token
from dockwatch.model.coverage_criteria import IMAGE, CoverageCriteria, GroupKey
from dockwatch.model.identity import Tenant, image_arn, repository_arn
from dockwatch.model.times import iso
from dockwatch.storage.scan_repo import CoverageScope, CoverageSelection, CoveredResource
from dockwatch.storage.unit_of_work import Store, UnitOfWork
from dockwatch.value_class import frozen

MAX_RESULTS = 200
"""ListCoverage's `maxResults` upper bound."""

_MULTI_CLOUD_GROUPS = ("PROVIDER", "PROVIDER_ACCOUNT_ID", "PROVIDER_REGION", "PROVIDER_ORG_ID")


@frozen
class CoveragePage:
    """One page of `coveredResources` and the token of the next page, if any."""

    resources: list[dict[str, Any]]
    next_token: str | None


def parse_max_results(raw: object) -> int:
    """`maxResults` (1-200; a number or a numeric string), 200 when absent."""
    if raw is None:
        return MAX_RESULTS
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # JSON's 2.0 is the integer 2
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise InvalidInput("maxResults must be a number")
    try:
        limit = int(raw)
    except ValueError as exc:
        raise InvalidInput("maxResults must be a number") from exc
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidInput(f"maxResults must be between 1 and {MAX_RESULTS}")
    return limit


def parse_group(raw: object) -> GroupKey | None:
    """`groupBy` of ListCoverageStatistics (None when absent)."""
    if raw is None:
        return None
    if raw in _MULTI_CLOUD_GROUPS:
        raise InvalidInput(
            f"groupBy: {raw} groups multi-cloud resources; dockwatch covers ECR only"
        )
    if not isinstance(raw, str) or raw not in GroupKey.__members__:
        raise InvalidInput(f"groupBy: {raw!r} is not one of {', '.join(GroupKey)}")
    return GroupKey(raw)


def _resource(uow: UnitOfWork, tenant: Tenant, x: CoveredResource) -> dict[str, Any]:
    repository = {"name": x.repository, "scanFrequency": x.frequency}
    out: dict[str, Any] = {
        "accountId": tenant.account_id,
        "resourceId": repository_arn(tenant, x.repository),
        "resourceType": x.resource_type,
        "scanType": "PACKAGE",
        "scanStatus": {"statusCode": x.status_code, "reason": x.reason},
        "resourceMetadata": {"ecrRepository": repository},
    }
    if x.resource_type == IMAGE:
        out["resourceId"] = image_arn(tenant, x.repository, x.digest)
        image: dict[str, Any] = {"tags": uow.registry.tags_of(x.repository_id, x.digest)}
        if x.last_pulled_at is not None:
            image["imagePulledAt"] = iso(x.last_pulled_at)
        out["resourceMetadata"]["ecrImage"] = image
    if x.last_scanned_at is not None:
        out["lastScannedAt"] = iso(x.last_scanned_at)
    return out


def list_coverage(
    store: Store,
    tenant: Tenant,
    criteria: CoverageCriteria,
    scope: CoverageScope,
    *,
    limit: int,
    token: str | None,
    bound_to: str,
) -> CoveragePage:
    """A page of covered resources meeting `criteria`, ordered by (repository, digest); a
    repository comes before its images. `token` must come from a page of the same request."""
    after = None
    if token:
        position = page_token.decode(token, bound_to=bound_to)
        if not (isinstance(position, list) and len(position) == 2):
            raise InvalidInput("nextToken is not a token this listing issued (or it was altered)")
        after = (str(position[0]), str(position[1]))
    with store.read() as uow:
        rows = uow.scans.covered_resources(tenant, CoverageSelection(criteria, scope, after, limit))
        page = [_resource(uow, tenant, x) for x in rows[:limit]]
    next_token = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_token = page_token.encode([last.repository, last.digest], bound_to=bound_to)
    return CoveragePage(page, next_token)


def coverage_statistics(
    store: Store,
    tenant: Tenant,
    criteria: CoverageCriteria,
    scope: CoverageScope,
    group: GroupKey | None,
) -> dict[str, Any]:
    """ListCoverageStatistics: `totalCounts` and, with `groupBy`, `countsByGroup` (largest
    group first); `groupKey` carries each group's value (`ACTIVE`, a repository name, ...)."""
    with store.read() as uow:
        total, groups = uow.scans.coverage_counts(tenant, criteria, scope, group)
    out: dict[str, Any] = {"totalCounts": total}
    if group is not None:
        ordered = sorted(groups, key=lambda g: (-g[1], g[0]))
        out["countsByGroup"] = [{"count": n, "groupKey": value} for value, n in ordered]
    return out
