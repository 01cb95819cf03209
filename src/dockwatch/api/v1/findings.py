"""Findings endpoints: ListFindings (query parameters or Inspector's body), one finding, and an
image's findings by layer. Shapes are Inspector's; criteria follow `model.finding_criteria`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anyio import to_thread
from starlette.requests import Request

from dockwatch.app import Services
from dockwatch.errors import InvalidInput
from dockwatch.findings.criteria import parse_criteria
from dockwatch.model.finding_criteria import Criteria
from dockwatch.model.finding_sort import Sort
from dockwatch.model.oci import INDEX_TYPES, SCHEMA1_TYPES, parse_manifest
from dockwatch.queries.criteria_query import criteria_from_query
from dockwatch.queries.listing import (
    findings_by_layer,
    get_finding,
    list_findings,
    parse_limit,
    parse_sort,
)
from dockwatch.registry.manifests import Manifests

from .body import json_body

_LIST_BODY = frozenset({"maxResults", "nextToken", "filterCriteria", "sortCriteria"})


def query_lists(request: Request) -> dict[str, list[str]]:
    """Every query parameter with all its values."""
    q = request.query_params
    return {k: q.getlist(k) for k in q}


def _one(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name) or []
    if len(values) > 1:
        raise InvalidInput(f"{name}: give it once")
    return values[0] if values else None


async def _page(
    services: Services, criteria: Criteria, sort: Sort, limit: int, token: str | None
) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with services.store.read() as uow:
            page = list_findings(uow.finding_queries, services.tenant, criteria, sort, limit, token)
        body: dict[str, Any] = {"findings": page.findings}
        if page.next_token:
            body["nextToken"] = page.next_token
        return body

    return await to_thread.run_sync(run)


async def list_findings_get(services: Services, request: Request) -> dict[str, Any]:
    """Findings meeting filters given as query parameters (`severity=HIGH`, `packageName=..`,
    `ecrImageRepositoryName=prod-*` for a prefix, `findingStatus=!CLOSED` to exclude, or the
    whole `filterCriteria` as JSON); `sortBy`, `sortOrder`, `maxResults` (1-1000), `nextToken`."""
    params = query_lists(request)
    criteria = criteria_from_query(params)
    sort = parse_sort(_one(params, "sortBy"), _one(params, "sortOrder"))
    limit = parse_limit(_one(params, "maxResults"))
    return await _page(services, criteria, sort, limit, _one(params, "nextToken"))


async def list_findings_post(services: Services, request: Request) -> dict[str, Any]:
    """Inspector ListFindings: `{filterCriteria, sortCriteria: {field, sortOrder}, maxResults,
    nextToken}`."""
    body = json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    unknown = sorted(set(body) - _LIST_BODY)
    if unknown:
        raise InvalidInput(
            f"unknown field {unknown[0]!r} (expected: {', '.join(sorted(_LIST_BODY))})"
        )
    criteria = parse_criteria(body.get("filterCriteria") or {})
    sort_doc = body.get("sortCriteria") or {}
    if not isinstance(sort_doc, dict) or set(sort_doc) - {"field", "sortOrder"}:
        raise InvalidInput("sortCriteria must be {field, sortOrder}")
    sort = parse_sort(sort_doc.get("field"), sort_doc.get("sortOrder"))
    limit = parse_limit(body.get("maxResults"))
    token = body.get("nextToken")
    if token is not None and not isinstance(token, str):
        raise InvalidInput("nextToken must be a string")
    return await _page(services, criteria, sort, limit, token or None)


async def get_one(services: Services, request: Request) -> dict[str, Any]:
    """One finding by id or ARN, with the matcher's evidence."""
    ref = request.path_params["findingId"]

    def run() -> dict[str, Any]:
        with services.store.read() as uow:
            return get_finding(uow.finding_queries, services.tenant, ref)

    return await to_thread.run_sync(run)


def _layers(content: bytes, media_type: str) -> list[str]:
    parsed = parse_manifest(content, media_type)
    if media_type in SCHEMA1_TYPES:  # fsLayers list the newest layer first
        return [b.digest for b in reversed(parsed.blobs)]
    return [b.digest for b in parsed.blobs[1:]]


async def image_findings_by_layer(services: Services, request: Request) -> dict[str, Any]:
    """An image's findings grouped by the layer that brought each vulnerable package, in layer
    order, with counts by severity per layer; the listing's filters apply (default: open
    findings, `findingStatus=!CLOSED`)."""
    name = request.path_params["name"]
    reference = request.path_params["reference"]
    params = query_lists(request)
    if "findingStatus" not in params and "filterCriteria" not in params:
        params["findingStatus"] = ["!CLOSED"]
    criteria = criteria_from_query(params)

    def run() -> dict[str, Any]:
        manifests = Manifests(services.registry.ctx)
        repo, row = manifests.resolve(name, reference)
        if row.media_type in INDEX_TYPES:
            raise InvalidInput(
                "an image index has no layers: ask for the digest of one of its platforms"
            )
        stored = manifests.get(name, row.digest, [row.media_type], record_pull=False)
        layers = _layers(stored.content, stored.media_type)
        with services.store.read() as uow:
            return findings_by_layer(
                uow.finding_queries, services.tenant, repo.id, name, row.digest, layers, criteria
            )

    return await to_thread.run_sync(run)


OPERATIONS: list[tuple[str, str, str, Any, int]] = [
    ("GET", "/api/v1/findings", "List findings (ListFindings with query parameters)",
     list_findings_get, 200),
    ("POST", "/api/v1/findings/list", "List findings (Inspector's ListFindings body)",
     list_findings_post, 200),
    ("GET", "/api/v1/repositories/{name:path}/images/{reference}/findings/by-layer",
     "An image's findings grouped by layer, with counts by severity", image_findings_by_layer,
     200),
]  # fmt: skip
"""(method, path, summary, handler, status) for `routes.OPERATIONS`."""

LAST_OPERATIONS: list[tuple[str, str, str, Any, int]] = [
    ("GET", "/api/v1/findings/{findingId:path}", "One finding by id or ARN, with its evidence",
     get_one, 200),
]  # fmt: skip
"""Routes that must come after every other `/api/v1/findings/...` route (the id may hold a
slash, as an ARN does)."""
