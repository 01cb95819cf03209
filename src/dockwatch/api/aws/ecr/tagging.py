"""ECR resource tags: TagResource, UntagResource, ListTagsForResource on repository ARNs
(kept in `resource_tags`), and the tag checks CreateRepository shares."""

from __future__ import annotations

import re
from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.api.aws.errors import AwsError
from dockwatch.model.identity import repository_arn

from .common import check_repository_name, invalid, repository_row, run

MAX_TAGS = 50
"""AWS's limit of tags per resource."""
_ARN = re.compile(r"^arn:aws:ecr:(?P<region>[^:]+):(?P<account>\d{12}):repository/(?P<name>.+)$")


def check_tags(tags: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """ECR `Tag` objects as (key, value) pairs, with AWS's tag rules."""
    out: list[tuple[str, str]] = []
    for tag in tags:
        key, value = tag.get("Key"), tag.get("Value")
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            raise AwsError("InvalidTagParameterException", "A tag key must be 1 to 128 characters")
        if not isinstance(value, str) or len(value) > 256:
            raise AwsError(
                "InvalidTagParameterException", "A tag value must be at most 256 characters"
            )
        if key.lower().startswith("aws:"):
            raise AwsError("InvalidTagParameterException", "The aws: prefix is reserved")
        out.append((key, value))
    if len(dict(out)) > MAX_TAGS:
        raise AwsError("TooManyTagsException", f"A resource can have at most {MAX_TAGS} tags")
    return out


def _repository(ctx: AwsContext, arn: Any) -> str:
    """The repository name an ARN of this tenant names (InvalidParameterException otherwise)."""
    match = _ARN.match(arn) if isinstance(arn, str) else None
    if match is None:
        raise invalid(f"Invalid parameter at 'resourceArn': {arn!r} is not a repository ARN")
    if (match["account"], match["region"]) != (ctx.tenant.account_id, ctx.tenant.region):
        raise invalid(
            f"Invalid parameter at 'resourceArn': {arn!r} is not in registry "
            f"'{ctx.tenant.account_id}' of region '{ctx.tenant.region}'"
        )
    return check_repository_name(match["name"])


async def tag_resource(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """TagResource: adds tags, replacing the values of existing keys."""
    name = _repository(ctx, body.get("resourceArn"))
    tags = check_tags(body.get("tags") or [])

    def tag() -> None:
        arn = repository_arn(ctx.tenant, name)
        with ctx.services.store.write() as uow:
            repository_row(uow, ctx, name)
            merged = dict(uow.ecr.resource_tags(ctx.tenant, arn)) | dict(tags)
            if len(merged) > MAX_TAGS:
                raise AwsError(
                    "TooManyTagsException", f"A resource can have at most {MAX_TAGS} tags"
                )
            uow.ecr.set_resource_tags(ctx.tenant, arn, tags)

    await run(tag)
    return {}


async def untag_resource(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """UntagResource: removes the given keys (keys the resource lacks are ignored)."""
    name = _repository(ctx, body.get("resourceArn"))
    keys = [str(k) for k in body.get("tagKeys") or []]

    def untag() -> None:
        with ctx.services.store.write() as uow:
            repository_row(uow, ctx, name)
            uow.ecr.remove_resource_tags(ctx.tenant, repository_arn(ctx.tenant, name), keys)

    await run(untag)
    return {}


async def list_tags_for_resource(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """ListTagsForResource: the repository's tags, by key."""
    name = _repository(ctx, body.get("resourceArn"))

    def list_tags() -> list[tuple[str, str]]:
        with ctx.services.store.read() as uow:
            repository_row(uow, ctx, name)
            return uow.ecr.resource_tags(ctx.tenant, repository_arn(ctx.tenant, name))

    return {"tags": [{"Key": k, "Value": v} for k, v in await run(list_tags)]}


OPERATIONS: dict[str, Handler] = {
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}
