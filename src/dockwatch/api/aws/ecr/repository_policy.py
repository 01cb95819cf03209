"""ECR's Set/Get/DeleteRepositoryPolicy: the resource policy that lets other accounts pull.

Policies are parsed and checked before they are stored (`registry/repository_policy.py`); a
policy that cannot be read answers InvalidParameterException, a repository without one
RepositoryPolicyNotFoundException. `registryId` may name only the caller's account.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.api.aws.errors import AwsError
from dockwatch.registry.errors import NameUnknown
from dockwatch.registry.names import NameInvalid
from dockwatch.registry.repository_policy import (
    PolicyInvalid,
    PolicyNotFound,
    delete_policy,
    get_policy,
    set_policy,
)


def _repository(ctx: AwsContext, body: dict[str, Any]) -> str:
    registry_id = body.get("registryId")
    name = str(body.get("repositoryName") or "")
    if registry_id not in (None, ctx.tenant.account_id):
        raise AwsError(
            "RepositoryNotFoundException",
            f"The repository with name '{name}' does not exist in the registry with id "
            f"'{registry_id}'",
        )
    return name


async def _run(ctx: AwsContext, name: str, fn: Any, *args: Any) -> str:
    try:
        return str(await to_thread.run_sync(fn, ctx.services.registry.ctx, name, *args))
    except (NameUnknown, NameInvalid) as exc:
        raise AwsError(
            "RepositoryNotFoundException",
            f"The repository with name '{name}' does not exist in the registry with id "
            f"'{ctx.tenant.account_id}'",
        ) from exc
    except PolicyNotFound as exc:
        raise AwsError("RepositoryPolicyNotFoundException", str(exc)) from exc
    except PolicyInvalid as exc:
        raise AwsError(
            "InvalidParameterException", f"Invalid parameter at 'PolicyText': {exc}"
        ) from exc


def _answer(ctx: AwsContext, name: str, text: str) -> dict[str, Any]:
    return {"registryId": ctx.tenant.account_id, "repositoryName": name, "policyText": text}


async def set_repository_policy(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """Store the repository's policy (replacing any)."""
    name = _repository(ctx, body)
    text = await _run(ctx, name, set_policy, str(body.get("policyText") or ""))
    return _answer(ctx, name, text)


async def get_repository_policy(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """The repository's policy."""
    name = _repository(ctx, body)
    return _answer(ctx, name, await _run(ctx, name, get_policy))


async def delete_repository_policy(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """Drop the repository's policy; answers the policy it had."""
    name = _repository(ctx, body)
    return _answer(ctx, name, await _run(ctx, name, delete_policy))


OPERATIONS: dict[str, Handler] = {
    "SetRepositoryPolicy": set_repository_policy,
    "GetRepositoryPolicy": get_repository_policy,
    "DeleteRepositoryPolicy": delete_repository_policy,
}
