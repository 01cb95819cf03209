"""Lifecycle policies through the ECR operations: put, get, delete, a preview of what a policy
would expire, and the periodic pass expiring an untagged image through the registry (its
delete event consumed by the scanner like any delete)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from dockwatch.app import Services
from dockwatch.clock import ControlledClock
from tests.builders.layers import make_image, make_layer, sha256
from tests.builders.push import push_image
from tests.unit.api.aws.ecr.calls import call, context, fails, waiter_state

pytestmark = pytest.mark.anyio


def _policy(*rules: dict[str, Any]) -> str:
    return json.dumps({"rules": list(rules)})


UNTAGGED_OLDER_THAN_A_DAY = {
    "rulePriority": 1,
    "description": "expire untagged images after a day",
    "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                  "countUnit": "days", "countNumber": 1},
    "action": {"type": "expire"},
}  # fmt: skip
KEEP_TWO_RELEASES = {
    "rulePriority": 2,
    "selection": {"tagStatus": "tagged", "tagPrefixList": ["release-"],
                  "countType": "imageCountMoreThan", "countNumber": 2},
    "action": {"type": "expire"},
}  # fmt: skip


def _push(services: Services, salt: str, tag: str | None) -> str:
    image = make_image([make_layer({"salt": salt})])
    return push_image(services, "app", image, tag or sha256(image.manifest))


async def test_policies_are_put_read_and_deleted(services: Services) -> None:
    ctx = context(services)
    await call(ctx, "CreateRepository", repositoryName="app")
    await fails(ctx, "GetLifecyclePolicy", "LifecyclePolicyNotFoundException", repositoryName="app")
    text = _policy(UNTAGGED_OLDER_THAN_A_DAY)
    put = await call(ctx, "PutLifecyclePolicy", repositoryName="app", lifecyclePolicyText=text)
    assert put["lifecyclePolicyText"] == text
    got = await call(ctx, "GetLifecyclePolicy", repositoryName="app")
    assert got["lifecyclePolicyText"] == text
    bad = _policy({**UNTAGGED_OLDER_THAN_A_DAY, "action": {"type": "archive-everything"}})
    await fails(
        ctx, "PutLifecyclePolicy", "InvalidParameterException",
        repositoryName="app", lifecyclePolicyText=bad,
    )  # fmt: skip
    await fails(
        ctx, "PutLifecyclePolicy", "RepositoryNotFoundException",
        repositoryName="nope", lifecyclePolicyText=text,
    )  # fmt: skip
    deleted = await call(ctx, "DeleteLifecyclePolicy", repositoryName="app")
    assert deleted["lifecyclePolicyText"] == text
    await fails(
        ctx, "DeleteLifecyclePolicy", "LifecyclePolicyNotFoundException", repositoryName="app"
    )


async def test_preview_lists_what_the_policy_would_expire(services: Services) -> None:
    ctx = context(services)
    clock = services.clock
    assert isinstance(clock, ControlledClock)
    await call(ctx, "CreateRepository", repositoryName="app")
    releases = []
    for i in range(4):
        releases.append(_push(services, f"r{i}", f"release-{i}"))
        clock.advance(timedelta(minutes=1))
    dangling = _push(services, "u", None)
    await fails(
        ctx, "StartLifecyclePolicyPreview", "LifecyclePolicyNotFoundException",
        repositoryName="app",
    )  # fmt: skip
    await fails(
        ctx, "GetLifecyclePolicyPreview", "LifecyclePolicyPreviewNotFoundException",
        repositoryName="app",
    )  # fmt: skip
    text = _policy(UNTAGGED_OLDER_THAN_A_DAY, KEEP_TWO_RELEASES)
    started = await call(
        ctx, "StartLifecyclePolicyPreview", repositoryName="app", lifecyclePolicyText=text
    )
    assert started["status"] == "IN_PROGRESS"
    got = await call(ctx, "GetLifecyclePolicyPreview", repositoryName="app")
    assert got["status"] == "COMPLETE" and got["lifecyclePolicyText"] == text
    assert waiter_state("LifecyclePolicyPreviewComplete", got) == "success"
    # the two oldest releases go; the untagged image is not a day old yet
    assert [(r["imageDigest"], r["imageTags"], r["appliedRulePriority"])
            for r in got["previewResults"]] == [
        (releases[0], ["release-0"], 2),
        (releases[1], ["release-1"], 2),
    ]  # fmt: skip
    assert got["summary"] == {"expiringImageTotalCount": 2}
    clock.advance(timedelta(days=2))
    await call(ctx, "StartLifecyclePolicyPreview", repositoryName="app", lifecyclePolicyText=text)
    later = await call(ctx, "GetLifecyclePolicyPreview", repositoryName="app", maxResults=2)
    assert later["summary"] == {"expiringImageTotalCount": 3}
    rest = await call(
        ctx, "GetLifecyclePolicyPreview", repositoryName="app", maxResults=2,
        nextToken=later["nextToken"],
    )  # fmt: skip
    digests = [r["imageDigest"] for r in later["previewResults"] + rest["previewResults"]]
    assert digests == [releases[0], releases[1], dangling]
    untagged = await call(
        ctx, "GetLifecyclePolicyPreview", repositoryName="app", filter={"tagStatus": "UNTAGGED"}
    )
    assert [r["imageDigest"] for r in untagged["previewResults"]] == [dangling]
    # previews change nothing
    assert len((await call(ctx, "ListImages", repositoryName="app"))["imageIds"]) == 5


async def test_the_periodic_pass_expires_an_untagged_image(services: Services) -> None:
    ctx = context(services)
    clock = services.clock
    assert isinstance(clock, ControlledClock)
    await call(ctx, "CreateRepository", repositoryName="app")
    kept = _push(services, "t", "v1")
    dangling = _push(services, "u", None)
    await call(
        ctx, "PutLifecyclePolicy", repositoryName="app",
        lifecyclePolicyText=_policy(UNTAGGED_OLDER_THAN_A_DAY),
    )  # fmt: skip
    services.worker.periodic()
    assert len((await call(ctx, "ListImages", repositoryName="app"))["imageIds"]) == 2
    clock.advance(timedelta(days=2))
    services.worker.periodic()
    left = await call(ctx, "ListImages", repositoryName="app")
    assert left["imageIds"] == [{"imageDigest": kept, "imageTag": "v1"}]
    await fails(
        ctx, "DescribeImages", "ImageNotFoundException",
        repositoryName="app", imageIds=[{"imageDigest": dangling}],
    )  # fmt: skip
    services.worker.drain()  # the scanner consumes the delete like a /v2 delete
