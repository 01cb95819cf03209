"""Suppression rules (Inspector filters): create, list, read, change, delete.

Bodies follow CreateFilter / UpdateFilter (`action`, `name`, `filterCriteria`, `description`,
`reason`, `tags`) plus `expiresAt`; answers follow ListFilters' `Filter`. A rule is named in the
path by its id or its ARN. Each change re-evaluates the findings the rule can touch before it
answers (`findingsChanged` says how many changed status).
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from starlette.requests import Request

from dockwatch.app import Services
from dockwatch.errors import InvalidInput
from dockwatch.findings.suppression import RuleChange, SuppressionRules

from .body import json_body


def _rules(services: Services) -> SuppressionRules:
    return SuppressionRules(services.store, services.clock, services.tenant)


async def _json(request: Request) -> Any:
    try:
        return json_body(request)
    except ValueError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}") from exc


def _answer(services: Services, change: RuleChange) -> dict[str, Any]:
    body = change.rule.to_wire(services.tenant, services.clock.now())
    body["findingsChanged"] = change.findings_changed
    return body


async def create_rule(services: Services, request: Request) -> dict[str, Any]:
    """CreateFilter: answers `{"arn": ...}` with the stored rule."""
    body = await _json(request)
    change = await to_thread.run_sync(_rules(services).create, body)
    return _answer(services, change)


async def list_rules(services: Services, request: Request) -> dict[str, Any]:
    """ListFilters: `action` (SUPPRESS or NONE), `arns` (repeatable), `maxResults` (1-100),
    `nextToken`."""
    q = request.query_params
    try:
        limit = int(q.get("maxResults", "100"))
    except ValueError as exc:
        raise InvalidInput("maxResults must be a whole number from 1 to 100") from exc

    def run() -> dict[str, Any]:
        rules, token = _rules(services).list(
            action=q.get("action") or None,
            arns=q.getlist("arns"),
            max_results=limit,
            next_token=q.get("nextToken") or None,
        )
        now = services.clock.now()
        body: dict[str, Any] = {"filters": [r.to_wire(services.tenant, now) for r in rules]}
        if token:
            body["nextToken"] = token
        return body

    return await to_thread.run_sync(run)


async def get_rule(services: Services, request: Request) -> dict[str, Any]:
    """One rule by id or ARN."""
    rule = await to_thread.run_sync(_rules(services).get, request.path_params["ref"])
    return rule.to_wire(services.tenant, services.clock.now())


async def update_rule(services: Services, request: Request) -> dict[str, Any]:
    """UpdateFilter: the fields given replace the stored ones (`expiresAt: null` clears it)."""
    body = await _json(request)
    change = await to_thread.run_sync(_rules(services).update, request.path_params["ref"], body)
    return _answer(services, change)


async def delete_rule(services: Services, request: Request) -> dict[str, Any]:
    """DeleteFilter: answers `{"arn": ...}`; the findings it suppressed become ACTIVE unless
    another rule suppresses them."""
    change = await to_thread.run_sync(_rules(services).delete, request.path_params["ref"])
    return {"arn": change.rule.arn, "findingsChanged": change.findings_changed}


OPERATIONS: list[tuple[str, str, str, Any, int]] = [
    ("GET", "/api/v1/suppression-rules", "Suppression rules and saved filters (ListFilters)",
     list_rules, 200),
    ("POST", "/api/v1/suppression-rules", "Create a suppression rule (CreateFilter + expiresAt)",
     create_rule, 201),
    ("GET", "/api/v1/suppression-rules/{ref:path}", "One suppression rule by id or ARN",
     get_rule, 200),
    ("PUT", "/api/v1/suppression-rules/{ref:path}", "Change a suppression rule (UpdateFilter)",
     update_rule, 200),
    ("DELETE", "/api/v1/suppression-rules/{ref:path}", "Delete a suppression rule",
     delete_rule, 200),
]  # fmt: skip
"""(method, path, summary, handler, status) for `routes.OPERATIONS`."""
