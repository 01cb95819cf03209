"""Coverage endpoints: Inspector ListCoverage (`POST /api/v1/coverage/list`, and `GET
/api/v1/coverage` with query parameters) and ListCoverageStatistics (`POST
/api/v1/coverage/statistics/list`), with keyset pagination."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from anyio import to_thread
from starlette.requests import Request

from dockwatch.app import Services
from dockwatch.errors import InvalidInput
from dockwatch.model import page_token
from dockwatch.model.coverage_criteria import (
    IMAGE,
    CoverageComparison,
    CoverageCriteria,
    CoverageString,
)
from dockwatch.queries.coverage import (
    coverage_statistics,
    list_coverage,
    parse_group,
    parse_max_results,
)
from dockwatch.queries.coverage_criteria import (
    coverage_criteria_from_query,
    parse_coverage_criteria,
)
from dockwatch.scan.config import RegistryScanningConfiguration, ScanFrequency, ScanType
from dockwatch.storage.scan_repo import CoverageScope, FrequencyRule

from .body import json_body

_PAGING = ("maxResults", "nextToken")
_LIST_BODY = frozenset({"maxResults", "nextToken", "filterCriteria"})
_STATISTICS_BODY = frozenset({"filterCriteria", "groupBy", "nextToken"})


def coverage_scope(config: RegistryScanningConfiguration) -> CoverageScope:
    """The registry scanning configuration as storage's frequency rules: CONTINUOUS_SCAN rules
    first (they win where both match), a filter without `*` as a substring (`*f*`)."""
    if config.scan_type is not ScanType.ENHANCED:
        return CoverageScope()
    if not config.rules:
        return CoverageScope((), ScanFrequency.CONTINUOUS_SCAN.value, True)
    rules = tuple(
        FrequencyRule(
            frequency.value,
            tuple(
                f.filter if "*" in f.filter else f"*{f.filter}*"
                for rule in config.rules
                if rule.scan_frequency is frequency
                for f in rule.filters
            ),
        )
        for frequency in (ScanFrequency.CONTINUOUS_SCAN, ScanFrequency.SCAN_ON_PUSH)
    )
    return CoverageScope(rules, ScanFrequency.MANUAL.value, True)


def _body(request: Request, allowed: frozenset[str]) -> dict[str, Any]:
    body = json_body(request)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r} (expected: {', '.join(sorted(allowed))})")
    return body


async def _page(
    services: Services, criteria: CoverageCriteria, limit: int, token: str | None, bound: str
) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        config, _ = services.scanner.settings()
        page = list_coverage(
            services.store,
            services.tenant,
            criteria,
            coverage_scope(config),
            limit=limit,
            token=token,
            bound_to=bound,
        )
        body: dict[str, Any] = {"coveredResources": page.resources}
        if page.next_token is not None:
            body["nextToken"] = page.next_token
        return body

    return await to_thread.run_sync(run)


async def list_coverage_get(services: Services, request: Request) -> dict[str, Any]:
    """Covered resources meeting filters given as query parameters (`scanStatusCode=ACTIVE`,
    `ecrRepositoryName=!tmp` to exclude, `lastScannedAtFrom=...`, or `filterCriteria` as JSON);
    image resources only unless a `resourceType` filter says otherwise; `maxResults` (1-200)
    and `nextToken`."""
    q = request.query_params
    params = {k: q.getlist(k) for k in q}
    for name in _PAGING:
        if len(params.get(name, [])) > 1:
            raise InvalidInput(f"{name}: give it once")
    criteria = coverage_criteria_from_query(params, ignore=_PAGING)
    if "resourceType" not in criteria.strings:
        images = (CoverageString(CoverageComparison.EQUALS, IMAGE),)
        criteria = replace(criteria, strings={**criteria.strings, "resourceType": images})
    bound = page_token.request_digest({k: v for k, v in params.items() if k not in _PAGING})
    limit = parse_max_results(q.get("maxResults"))
    return await _page(services, criteria, limit, q.get("nextToken") or None, bound)


async def list_coverage_post(services: Services, request: Request) -> dict[str, Any]:
    """Inspector ListCoverage: `{filterCriteria, maxResults, nextToken}`."""
    body = _body(request, _LIST_BODY)
    criteria = parse_coverage_criteria(body.get("filterCriteria") or {})
    bound = page_token.request_digest({"filterCriteria": body.get("filterCriteria") or {}})
    limit = parse_max_results(body.get("maxResults"))
    return await _page(services, criteria, limit, body.get("nextToken") or None, bound)


async def list_coverage_statistics(services: Services, request: Request) -> dict[str, Any]:
    """Inspector ListCoverageStatistics: `{filterCriteria, groupBy, nextToken}`; every group
    fits one answer, so no `nextToken` is ever issued."""
    body = _body(request, _STATISTICS_BODY)
    criteria = parse_coverage_criteria(body.get("filterCriteria") or {})
    group = parse_group(body.get("groupBy"))
    if body.get("nextToken"):
        raise InvalidInput("nextToken is not a token this listing issued (or it was altered)")

    def run() -> dict[str, Any]:
        config, _ = services.scanner.settings()
        scope = coverage_scope(config)
        return coverage_statistics(services.store, services.tenant, criteria, scope, group)

    return await to_thread.run_sync(run)


OPERATIONS = [
    ("GET", "/api/v1/coverage", "Covered image resources (ListCoverage, query filters)",
     list_coverage_get),
    ("POST", "/api/v1/coverage/list", "Inspector ListCoverage (filterCriteria, maxResults, "
     "nextToken)", list_coverage_post),
    ("POST", "/api/v1/coverage/statistics/list", "Inspector ListCoverageStatistics "
     "(filterCriteria, groupBy)", list_coverage_statistics),
]  # fmt: skip
