"""Pull policies (registry-wide and per repository) and per-image pull allowances.

`PUT` bodies follow `pullpolicy.policy` (`enabled`, `severityThreshold`, `blockExploitable`,
`requireScan`, `maxScanAgeHours`); an allowance is `repositoryName`, `imageDigest`, `reason`,
`expiresAt`. Every change commits before it answers, so the next pull is judged by it.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from starlette.requests import Request

from dockwatch.app import Services
from dockwatch.errors import InvalidInput
from dockwatch.pullpolicy.service import MAX_LIST, PullPolicies

from .body import json_body


def _policies(services: Services) -> PullPolicies:
    return PullPolicies(services.store, services.clock, services.tenant)


def _repository(request: Request) -> str | None:
    name = request.path_params.get("name")
    return None if name is None else str(name)


async def get_policy(services: Services, request: Request) -> dict[str, Any]:
    """The stored policy (404 when none is set)."""
    policy = await to_thread.run_sync(_policies(services).get, _repository(request))
    return policy.to_wire()


async def put_policy(services: Services, request: Request) -> dict[str, Any]:
    """Create or replace the policy."""
    body = json_body(request)
    policy = await to_thread.run_sync(_policies(services).put, _repository(request), body)
    return policy.to_wire()


async def delete_policy(services: Services, request: Request) -> dict[str, Any]:
    """Remove the policy (a repository falls back to the registry-wide one)."""
    repository = _repository(request)
    await to_thread.run_sync(_policies(services).delete, repository)
    return {"scope": "REGISTRY" if repository is None else "REPOSITORY", "deleted": True}


async def create_allowance(services: Services, request: Request) -> dict[str, Any]:
    """Let one image through every pull policy until `expiresAt`, for `reason`."""
    allowance = await to_thread.run_sync(_policies(services).allow, json_body(request))
    return allowance.to_wire(services.clock.now())


async def list_allowances(services: Services, request: Request) -> dict[str, Any]:
    """Allowances (expired ones marked `expired`): `repositoryName`, `maxResults` (1-100),
    `nextToken`."""
    q = request.query_params
    try:
        limit = int(q.get("maxResults", str(MAX_LIST)))
    except ValueError as exc:
        raise InvalidInput(f"maxResults must be a whole number from 1 to {MAX_LIST}") from exc

    def run() -> dict[str, Any]:
        page, token = _policies(services).allowances(
            q.get("repositoryName") or None, limit, q.get("nextToken") or None
        )
        now = services.clock.now()
        body: dict[str, Any] = {"allowances": [a.to_wire(now) for a in page]}
        if token:
            body["nextToken"] = token
        return body

    return await to_thread.run_sync(run)


async def get_allowance(services: Services, request: Request) -> dict[str, Any]:
    """One allowance."""
    allowance = await to_thread.run_sync(
        _policies(services).get_allowance, request.path_params["id"]
    )
    return allowance.to_wire(services.clock.now())


async def delete_allowance(services: Services, request: Request) -> dict[str, Any]:
    """Revoke an allowance."""
    allowance_id = request.path_params["id"]
    await to_thread.run_sync(_policies(services).revoke, allowance_id)
    return {"allowanceId": allowance_id}


_REPO = "/api/v1/repositories/{name:path}/pull-policy"

OPERATIONS: list[tuple[str, str, str, Any, int]] = [
    ("GET", "/api/v1/pull-policy", "The registry-wide pull policy", get_policy, 200),
    ("PUT", "/api/v1/pull-policy", "Set the registry-wide pull policy", put_policy, 200),
    ("DELETE", "/api/v1/pull-policy", "Remove the registry-wide pull policy", delete_policy, 200),
    ("GET", _REPO, "A repository's own pull policy", get_policy, 200),
    ("PUT", _REPO, "Set a repository's pull policy (replaces the registry's for it)",
     put_policy, 200),
    ("DELETE", _REPO, "Remove a repository's pull policy", delete_policy, 200),
    ("GET", "/api/v1/pull-allowances", "Per-image pull allowances (repositoryName, maxResults, "
     "nextToken)", list_allowances, 200),
    ("POST", "/api/v1/pull-allowances", "Allow one image through pull policies until expiresAt",
     create_allowance, 201),
    ("GET", "/api/v1/pull-allowances/{id}", "One pull allowance", get_allowance, 200),
    ("DELETE", "/api/v1/pull-allowances/{id}", "Revoke a pull allowance", delete_allowance, 200),
]  # fmt: skip
"""(method, path, summary, handler, status) for `routes.OPERATIONS`."""
