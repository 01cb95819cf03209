"""ECR lifecycle policy operations: Put/Get/DeleteLifecyclePolicy, StartLifecyclePolicyPreview
and GetLifecyclePolicyPreview, over `registry/lifecycle` (the same evaluation the periodic
pass applies)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.api.aws.errors import AwsError
from dockwatch.registry.lifecycle.expire import preview
from dockwatch.registry.lifecycle.policy import LifecyclePolicyInvalid, parse_policy

from .common import (
    check_registry,
    invalid,
    page_of,
    repository_name,
    repository_row,
    resolve_image_id,
    run,
)


def _parse(text: Any) -> str:
    if not isinstance(text, str):
        raise invalid("lifecyclePolicyText is required")
    try:
        parse_policy(text)
    except LifecyclePolicyInvalid as exc:
        raise invalid(str(exc)) from exc
    return text


def _no_policy(ctx: AwsContext, name: str) -> AwsError:
    return AwsError(
        "LifecyclePolicyNotFoundException",
        f"Lifecycle policy does not exist for the repository with name '{name}' in the registry "
        f"with id '{ctx.tenant.account_id}'",
    )


async def put_lifecycle_policy(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """PutLifecyclePolicy: a valid policy replaces the repository's one."""
    registry_id = check_registry(ctx, body)
    name = repository_name(body)
    text = _parse(body.get("lifecyclePolicyText"))

    def put() -> None:
        with ctx.services.store.write() as uow:
            repository_row(uow, ctx, name)
            uow.ecr.put_lifecycle_policy(ctx.tenant, name, text, ctx.services.clock.now())

    await run(put)
    return {"registryId": registry_id, "repositoryName": name, "lifecyclePolicyText": text}


async def get_lifecycle_policy(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """GetLifecyclePolicy: the text as put."""
    registry_id = check_registry(ctx, body)
    name = repository_name(body)

    def get() -> str:
        with ctx.services.store.read() as uow:
            repository_row(uow, ctx, name)
            row = uow.ecr.lifecycle_policy(ctx.tenant, name)
        if row is None:
            raise _no_policy(ctx, name)
        return row.text

    text = await run(get)
    return {"registryId": registry_id, "repositoryName": name, "lifecyclePolicyText": text}


async def delete_lifecycle_policy(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """DeleteLifecyclePolicy: answers the policy it removed."""
    registry_id = check_registry(ctx, body)
    name = repository_name(body)

    def delete() -> str:
        with ctx.services.store.write() as uow:
            repository_row(uow, ctx, name)
            row = uow.ecr.lifecycle_policy(ctx.tenant, name)
            if row is None:
                raise _no_policy(ctx, name)
            uow.ecr.delete_lifecycle_policy(ctx.tenant, name)
        return row.text

    text = await run(delete)
    return {"registryId": registry_id, "repositoryName": name, "lifecyclePolicyText": text}


async def start_lifecycle_policy_preview(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """StartLifecyclePolicyPreview: evaluates the given policy (or the stored one) at once and
    keeps the result for GetLifecyclePolicyPreview; answers IN_PROGRESS as ECR does."""
    registry_id = check_registry(ctx, body)
    name = repository_name(body)
    given = body.get("lifecyclePolicyText")
    services = ctx.services

    def start() -> str:
        with services.store.read() as uow:
            repository_row(uow, ctx, name)
            stored = uow.ecr.lifecycle_policy(ctx.tenant, name)
        if given is None and stored is None:
            raise _no_policy(ctx, name)
        text = _parse(given if given is not None else stored.text if stored else None)
        expiries = preview(services.registry.ctx, name, parse_policy(text))
        result = [
            {
                "imageDigest": e.image.digest,
                "imageTags": list(e.image.tags),
                "imagePushedAt": e.image.pushed_at.isoformat(),
                "appliedRulePriority": e.rule_priority,
            }
            for e in expiries
        ]
        with services.store.write() as uow:
            uow.ecr.save_lifecycle_preview(
                ctx.tenant, name, text, json.dumps(result), services.clock.now()
            )
        return text

    text = await run(start)
    return {
        "registryId": registry_id,
        "repositoryName": name,
        "lifecyclePolicyText": text,
        "status": "IN_PROGRESS",
    }


async def get_lifecycle_policy_preview(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """GetLifecyclePolicyPreview: the images the last preview would expire (filtered by
    `imageIds` or `filter.tagStatus`), paged, with the total in `summary`."""
    registry_id = check_registry(ctx, body)
    name = repository_name(body)
    status = (body.get("filter") or {}).get("tagStatus", "ANY")
    if status not in ("TAGGED", "UNTAGGED", "ANY"):
        raise invalid(f"tagStatus must be TAGGED, UNTAGGED or ANY, not {status!r}")

    def get() -> dict[str, Any]:
        with ctx.services.store.read() as uow:
            repo = repository_row(uow, ctx, name)
            row = uow.ecr.lifecycle_preview(ctx.tenant, name)
            if row is None:
                raise AwsError(
                    "LifecyclePolicyPreviewNotFoundException",
                    f"There is no lifecycle policy preview for the repository with name '{name}' "
                    f"in the registry with id '{ctx.tenant.account_id}'",
                )
            wanted = None
            if body.get("imageIds") is not None:
                wanted = {
                    r.digest
                    for r in (resolve_image_id(uow, repo.id, i) for i in body["imageIds"])
                    if r.digest
                }
        results = json.loads(row.result)
        total = len(results)
        if wanted is not None:
            results = [r for r in results if r["imageDigest"] in wanted]
        if status != "ANY":
            results = [r for r in results if bool(r["imageTags"]) == (status == "TAGGED")]
        bound = {"op": "GetLifecyclePolicyPreview", "repo": name, "status": status,
                 "ids": body.get("imageIds"), "at": row.created_at.isoformat()}  # fmt: skip
        page = page_of(len(results), body, bound)
        out: dict[str, Any] = {
            "registryId": registry_id,
            "repositoryName": name,
            "lifecyclePolicyText": row.policy_text,
            "status": "COMPLETE",
            "previewResults": [
                {
                    "imageDigest": r["imageDigest"],
                    "imageTags": r["imageTags"],
                    "imagePushedAt": datetime.fromisoformat(r["imagePushedAt"]),
                    "action": {"type": "EXPIRE"},
                    "appliedRulePriority": r["appliedRulePriority"],
                }
                for r in results[page.start : page.start + page.size]
            ],
            "summary": {"expiringImageTotalCount": total},
        }
        if page.token:
            out["nextToken"] = page.token
        return out

    return await run(get)


OPERATIONS: dict[str, Handler] = {
    "PutLifecyclePolicy": put_lifecycle_policy,
    "GetLifecyclePolicy": get_lifecycle_policy,
    "DeleteLifecyclePolicy": delete_lifecycle_policy,
    "StartLifecyclePolicyPreview": start_lifecycle_policy_preview,
    "GetLifecyclePolicyPreview": get_lifecycle_policy_preview,
}
