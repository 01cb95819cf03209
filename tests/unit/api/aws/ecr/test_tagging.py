"""Resource tags on repository ARNs (TagResource, UntagResource, ListTagsForResource) and
DescribeImageReplicationStatus for a registry that replicates nothing."""

from __future__ import annotations

import pytest

from dockwatch.app import Services
from dockwatch.model.identity import repository_arn
from tests.builders.layers import make_image, make_layer
from tests.builders.push import push_image
from tests.unit.api.aws.ecr.calls import call, context, fails

pytestmark = pytest.mark.anyio


async def test_tags_are_added_replaced_and_removed(services: Services) -> None:
    ctx = context(services)
    await call(ctx, "CreateRepository", repositoryName="app", tags=[{"Key": "a", "Value": "1"}])
    arn = repository_arn(services.tenant, "app")
    await call(ctx, "TagResource", resourceArn=arn,
               tags=[{"Key": "a", "Value": "2"}, {"Key": "b", "Value": ""}])  # fmt: skip
    got = await call(ctx, "ListTagsForResource", resourceArn=arn)
    assert got["tags"] == [{"Key": "a", "Value": "2"}, {"Key": "b", "Value": ""}]
    await call(ctx, "UntagResource", resourceArn=arn, tagKeys=["a", "never-set"])
    assert (await call(ctx, "ListTagsForResource", resourceArn=arn))["tags"] == [
        {"Key": "b", "Value": ""}
    ]
    fifty = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    await fails(ctx, "TagResource", "TooManyTagsException", resourceArn=arn, tags=fifty)
    await fails(
        ctx, "TagResource", "RepositoryNotFoundException",
        resourceArn=repository_arn(services.tenant, "nope"), tags=[{"Key": "a", "Value": "1"}],
    )  # fmt: skip
    await fails(
        ctx, "TagResource", "InvalidParameterException",
        resourceArn="arn:aws:s3:::bucket", tags=[{"Key": "a", "Value": "1"}],
    )  # fmt: skip
    # a deleted repository takes its tags along: a new one of the same name starts bare
    await call(ctx, "DeleteRepository", repositoryName="app")
    await call(ctx, "CreateRepository", repositoryName="app")
    assert (await call(ctx, "ListTagsForResource", resourceArn=arn))["tags"] == []


async def test_replication_status_is_empty_without_replication(services: Services) -> None:
    ctx = context(services)
    await call(ctx, "CreateRepository", repositoryName="app")
    digest = push_image(services, "app", make_image([make_layer({"f": "x"})]), "v1")
    got = await call(
        ctx, "DescribeImageReplicationStatus", repositoryName="app", imageId={"imageTag": "v1"}
    )
    assert got == {
        "repositoryName": "app",
        "imageId": {"imageDigest": digest, "imageTag": "v1"},
        "replicationStatuses": [],
    }
    await fails(
        ctx, "DescribeImageReplicationStatus", "ImageNotFoundException",
        repositoryName="app", imageId={"imageTag": "v2"},
    )  # fmt: skip
