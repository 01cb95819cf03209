"""`GET /api/v1/coverage`: Inspector ListCoverage over the scan state, with keyset pagination."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from anyio import to_thread
from starlette.requests import Request

from dockwatch.app import Services
from dockwatch.errors import InvalidInput
from dockwatch.model import page_token
from dockwatch.scan.reports import coverage
from dockwatch.storage.scan_repo import CoverageQuery

MAX_RESULTS = 200
_FILTERS = ("repositoryName", "scanStatusCode", "scanStatusReason")
_TIMES = ("lastScannedAtFrom", "lastScannedAtTo")


async def list_coverage(services: Services, request: Request) -> dict[str, Any]:
    """Covered image resources: filters `repositoryName`, `scanStatusCode`, `scanStatusReason`,
    `lastScannedAtFrom`/`lastScannedAtTo` (ISO 8601); `maxResults` (1-200) and `nextToken`."""
    q = request.query_params
    try:
        limit = int(q.get("maxResults", MAX_RESULTS))
    except ValueError as exc:
        raise InvalidInput("maxResults must be a number") from exc
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidInput(f"maxResults must be between 1 and {MAX_RESULTS}")
    bound = page_token.request_digest({k: q.get(k) for k in (*_FILTERS, *_TIMES)})
    after = None
    if q.get("nextToken"):
        position = page_token.decode(q["nextToken"], bound_to=bound)
        if not (isinstance(position, list) and len(position) == 2):
            raise InvalidInput("nextToken is not a token this listing issued (or it was altered)")
        after = (str(position[0]), str(position[1]))
    try:
        since = datetime.fromisoformat(q[_TIMES[0]]) if q.get(_TIMES[0]) else None
        until = datetime.fromisoformat(q[_TIMES[1]]) if q.get(_TIMES[1]) else None
    except ValueError as exc:
        raise InvalidInput(f"lastScannedAt filters must be ISO 8601 times: {exc}") from exc
    query = CoverageQuery(
        repository=q.get("repositoryName") or None,
        status_code=q.get("scanStatusCode") or None,
        reason=q.get("scanStatusReason") or None,
        scanned_from=since,
        scanned_to=until,
        after=after,
        limit=limit,
    )

    def run() -> dict[str, Any]:
        config, _ = services.scanner.settings()
        page = coverage(services.store, services.tenant, config, query)
        body: dict[str, Any] = {"coveredResources": page.resources}
        if page.next_after is not None:
            body["nextToken"] = page_token.encode(list(page.next_after), bound_to=bound)
        return body

    return await to_thread.run_sync(run)
