"""DescribeImageReplicationStatus: dockwatch replicates nothing, so an existing image reports
no destinations (`replicationStatuses: []`), as ECR does for a registry without replication
rules; a missing repository or image gets ECR's not-found errors."""

from __future__ import annotations

from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.api.aws.errors import AwsError

from .common import (
    check_registry,
    image_id_text,
    repository_name,
    repository_row,
    resolve_image_id,
    run,
)


async def describe_image_replication_status(
    ctx: AwsContext, body: dict[str, Any]
) -> dict[str, Any]:
    """The image's replication destinations: none."""
    check_registry(ctx, body)
    name = repository_name(body)
    image_id = body["imageId"]

    def describe() -> dict[str, Any]:
        with ctx.services.store.read() as uow:
            repo = repository_row(uow, ctx, name)
            found = resolve_image_id(uow, repo.id, image_id)
        if found.digest is None:
            raise AwsError(
                "ImageNotFoundException",
                f"The image with imageId {image_id_text(image_id)} does not exist within the "
                f"repository with name '{name}' in the registry with id '{ctx.tenant.account_id}'",
            )
        out_id = {"imageDigest": found.digest, **({"imageTag": image_id["imageTag"]}
                                                   if image_id.get("imageTag") else {})}  # fmt: skip
        return {"repositoryName": name, "imageId": out_id, "replicationStatuses": []}

    return await run(describe)


OPERATIONS: dict[str, Handler] = {
    "DescribeImageReplicationStatus": describe_image_replication_status,
}
