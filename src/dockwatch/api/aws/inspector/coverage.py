"""Inspector2 ListCoverage and ListCoverageStatistics over the same queries as `/api/v1`,
across the accounts the caller sees; each account's resources are covered by its own registry
scanning configuration."""

from __future__ import annotations

from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.api.v1.coverage import coverage_scope
from dockwatch.model import page_token
from dockwatch.model.identity import Tenant
from dockwatch.queries.coverage import (
    MAX_RESULTS,
    coverage_statistics,
    list_coverage,
    parse_group,
)
from dockwatch.queries.coverage_criteria import parse_coverage_criteria
from dockwatch.scan.config import RegistryScanningConfiguration, parse_configuration
from dockwatch.storage.scan_repo import CoverageScope
from dockwatch.storage.unit_of_work import Store

from .across import page_across, to_datetime
from .common import blocking, operation, validation, visible_tenants


def scanning_configuration(store: Store, tenant: Tenant) -> RegistryScanningConfiguration:
    """A tenant's registry scanning configuration (BASIC with no rules when never saved)."""
    with store.read() as uow:
        stored = uow.scans.settings(tenant)
    if stored is None:
        return RegistryScanningConfiguration()
    return parse_configuration(stored.scanning_configuration)


def _scope(store: Store, tenant: Tenant) -> CoverageScope:
    return coverage_scope(scanning_configuration(store, tenant))


def _times(resource: dict[str, Any]) -> dict[str, Any]:
    if resource.get("lastScannedAt") is not None:
        resource["lastScannedAt"] = to_datetime(resource["lastScannedAt"])
    image = (resource.get("resourceMetadata") or {}).get("ecrImage") or {}
    for key in ("imagePulledAt", "lastInUseAt"):
        if image.get(key) is not None:
            image[key] = to_datetime(image[key])
    return resource


@operation
async def list_coverage_op(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """ListCoverage: `filterCriteria` (CoverageFilterCriteria), `maxResults` (1-200, default
    200), `nextToken`; resources account by account, each in (repository, digest) order."""
    raw = body.get("filterCriteria") or {}
    criteria = parse_coverage_criteria(raw)
    limit = body.get("maxResults", MAX_RESULTS)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
        raise validation(f"maxResults must be a whole number from 1 to {MAX_RESULTS}")
    bound = page_token.request_digest({"op": "aws:ListCoverage", "filterCriteria": raw})
    inner_bound = page_token.request_digest({"filterCriteria": raw})
    store = ctx.services.store

    def run() -> dict[str, Any]:
        def fetch(tenant: Tenant, inner: str | None, room: int) -> tuple[list[Any], str | None]:
            page = list_coverage(store, tenant, criteria, _scope(store, tenant), limit=room,
                                 token=inner, bound_to=inner_bound)  # fmt: skip
            return page.resources, page.next_token

        tenants = visible_tenants(ctx)
        resources, token = page_across(tenants, body.get("nextToken"), limit, bound, fetch)
        out: dict[str, Any] = {"coveredResources": [_times(r) for r in resources]}
        if token:
            out["nextToken"] = token
        return out

    return await blocking(run)


@operation
async def list_coverage_statistics(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """ListCoverageStatistics: `totalCounts` and, with `groupBy`, `countsByGroup` summed over
    the accounts the caller sees (largest first, ties by key); every group fits one answer."""
    criteria = parse_coverage_criteria(body.get("filterCriteria") or {})
    group = parse_group(body.get("groupBy"))
    if body.get("nextToken"):
        raise validation("nextToken is not a token this listing issued (or it was altered)")
    store = ctx.services.store

    def run() -> dict[str, Any]:
        total = 0
        counts: dict[str, int] = {}
        for tenant in visible_tenants(ctx):
            one = coverage_statistics(store, tenant, criteria, _scope(store, tenant), group)
            total += int(one["totalCounts"])
            for entry in one.get("countsByGroup", []):
                key = str(entry["groupKey"])
                counts[key] = counts.get(key, 0) + int(entry["count"])
        out: dict[str, Any] = {"totalCounts": total}
        if group is not None:
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            out["countsByGroup"] = [{"count": n, "groupKey": k} for k, n in ordered]
        return out

    return await blocking(run)


OPERATIONS: dict[str, Handler] = {
    "ListCoverage": list_coverage_op,
    "ListCoverageStatistics": list_coverage_statistics,
}
