"""`GET /api/v1/audit`: the audit log, newest first, filtered and paged.

Query strings: `principal`, `action` (exact), `resource` (a prefix of the path), `since`,
`until` (ISO 8601), `maxResults` (1-1000, default 100), `nextToken`.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from starlette.requests import Request

from dockwatch.app import Services
from dockwatch.audit.log import AuditLog, to_wire


async def list_audit(services: Services, request: Request) -> dict[str, Any]:
    """A page of audit entries (`auditEvents`, `nextToken` while more remain)."""
    log = AuditLog(services.store, services.tenant, services.clock)
    params = dict(request.query_params)
    page = await to_thread.run_sync(log.list, params)
    body: dict[str, Any] = {"auditEvents": [to_wire(r) for r in page.rows]}
    if page.next_token:
        body["nextToken"] = page.next_token
    return body


OPERATIONS = [
    (
        "GET",
        "/api/v1/audit",
        "The audit log (principal, action, resource prefix, since, until, maxResults, nextToken)",
        list_audit,
    ),
]
