"""ECR image operations over a real store: ListImages and DescribeImages with tag filters and
pages, BatchGetImage (failures, accepted media types, pulls recorded), BatchDeleteImage (the last
tag takes the image), PutImage (ImageAlreadyExistsException, missing layers, digest checks),
BatchCheckLayerAvailability and GetDownloadUrlForLayer. Expected values come from the bytes
pushed, not from the code under test."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dockwatch.app import Services
from dockwatch.clock import ControlledClock
from tests.builders.layers import OCI_CONFIG, OCI_MANIFEST, Image, make_image, make_layer, sha256
from tests.builders.push import push_image, upload_blob
from tests.unit.api.aws.ecr.calls import call, context, fails

pytestmark = pytest.mark.anyio


def _image(salt: str, layers: int = 1) -> Image:
    return make_image([make_layer({"salt": f"{salt}-{i}"}) for i in range(layers)])


async def _repo(services: Services, name: str = "app") -> None:
    await call(context(services), "CreateRepository", repositoryName=name)


async def test_list_images_filters_by_tag_status(services: Services) -> None:
    ctx = context(services)
    await _repo(services)
    a = push_image(services, "app", _image("a"), "v1")
    services.registry.manifests.put("app", "v1.1", _image("a").manifest, OCI_MANIFEST)
    b = push_image(services, "app", _image("b"), "v2")
    untagged_image = _image("c")
    c = push_image(services, "app", untagged_image, sha256(untagged_image.manifest))

    async def ids(status: str) -> set[tuple[str, str | None]]:
        got = await call(ctx, "ListImages", repositoryName="app", filter={"tagStatus": status})
        return {(i["imageDigest"], i.get("imageTag")) for i in got["imageIds"]}

    tagged = {(a, "v1"), (a, "v1.1"), (b, "v2")}
    assert await ids("TAGGED") == tagged
    assert await ids("UNTAGGED") == {(c, None)}
    assert await ids("ANY") == tagged | {(c, None)}
    first = await call(ctx, "ListImages", repositoryName="app", maxResults=2)
    rest = await call(ctx, "ListImages", repositoryName="app", nextToken=first["nextToken"])
    both = [(i["imageDigest"], i.get("imageTag")) for i in first["imageIds"] + rest["imageIds"]]
    assert len(first["imageIds"]) == 2 and set(both) == tagged | {(c, None)} and len(both) == 4
    await fails(ctx, "ListImages", "RepositoryNotFoundException", repositoryName="nope")


async def test_describe_images_reports_what_was_pushed(services: Services) -> None:
    ctx = context(services)
    clock = services.clock
    assert isinstance(clock, ControlledClock)
    await _repo(services)
    image = _image("x", layers=3)
    before = clock.now()
    digest = push_image(services, "app", image, "v1")
    after = clock.now()
    clock.advance(timedelta(seconds=1))
    services.registry.manifests.put("app", "zz-latest", image.manifest, OCI_MANIFEST)
    untagged = _image("y")
    other = push_image(services, "app", untagged, sha256(untagged.manifest))
    got = await call(ctx, "DescribeImages", repositoryName="app", imageIds=[{"imageTag": "v1"}])
    [detail] = got["imageDetails"]
    assert detail["imageDigest"] == digest == sha256(image.manifest)
    assert detail["imageTags"] == ["zz-latest", "v1"]  # the tag set last comes first
    assert detail["imageSizeInBytes"] == sum(len(layer.blob) for layer in image.layers)
    assert before.timestamp() <= detail["imagePushedAt"] <= after.timestamp()
    assert detail["imageManifestMediaType"] == OCI_MANIFEST
    assert detail["artifactMediaType"] == OCI_CONFIG
    assert "lastRecordedPullTime" not in detail
    clock.advance(timedelta(hours=1))
    before = clock.now()
    await call(ctx, "BatchGetImage", repositoryName="app", imageIds=[{"imageDigest": digest}])
    after = clock.now()
    got = await call(
        ctx, "DescribeImages", repositoryName="app", imageIds=[{"imageDigest": digest}]
    )
    pulled = got["imageDetails"][0]["lastRecordedPullTime"]
    assert before.timestamp() <= pulled <= after.timestamp()
    tagged = await call(ctx, "DescribeImages", repositoryName="app", filter={"tagStatus": "TAGGED"})
    assert [d["imageDigest"] for d in tagged["imageDetails"]] == [digest]
    untagged_only = await call(
        ctx, "DescribeImages", repositoryName="app", filter={"tagStatus": "UNTAGGED"}
    )
    assert [d["imageDigest"] for d in untagged_only["imageDetails"]] == [other]
    await fails(
        ctx, "DescribeImages", "ImageNotFoundException",
        repositoryName="app", imageIds=[{"imageTag": "missing"}],
    )  # fmt: skip


async def test_batch_get_image_answers_manifests_and_failures(services: Services) -> None:
    ctx = context(services)
    await _repo(services)
    image, other = _image("a"), _image("b")
    digest = push_image(services, "app", image, "v1")
    push_image(services, "app", other, "v2")
    got = await call(
        ctx,
        "BatchGetImage",
        repositoryName="app",
        imageIds=[
            {"imageTag": "v1"},
            {"imageTag": "nope"},
            {"imageTag": "v2", "imageDigest": digest},
            {"imageDigest": "sha256:" + "0" * 64},
        ],
        acceptedMediaTypes=[OCI_MANIFEST],
    )
    [found] = got["images"]
    assert found["imageManifest"].encode() == image.manifest
    assert found["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    assert found["imageManifestMediaType"] == OCI_MANIFEST
    codes = [(f["imageId"], f["failureCode"]) for f in got["failures"]]
    assert codes == [
        ({"imageTag": "nope"}, "ImageNotFound"),
        ({"imageDigest": digest, "imageTag": "v2"}, "ImageTagDoesNotMatchDigest"),
        ({"imageDigest": "sha256:" + "0" * 64}, "ImageNotFound"),
    ]
    docker_only = await call(
        ctx, "BatchGetImage", repositoryName="app", imageIds=[{"imageTag": "v1"}],
        acceptedMediaTypes=["application/vnd.docker.distribution.manifest.v2+json"],
    )  # fmt: skip
    assert docker_only["images"] == [] and len(docker_only["failures"]) == 1


async def test_batch_delete_image_by_tag_and_digest(services: Services) -> None:
    ctx = context(services)
    await _repo(services)
    a = push_image(services, "app", _image("a"), "v1")
    services.registry.manifests.put("app", "v1.1", _image("a").manifest, OCI_MANIFEST)
    b = push_image(services, "app", _image("b"), "v2")
    first = await call(ctx, "BatchDeleteImage", repositoryName="app", imageIds=[{"imageTag": "v1"}])
    assert first["imageIds"] == [{"imageDigest": a, "imageTag": "v1"}]
    remaining = await call(ctx, "ListImages", repositoryName="app")
    assert {(i["imageDigest"], i.get("imageTag")) for i in remaining["imageIds"]} == {
        (a, "v1.1"),
        (b, "v2"),
    }
    # removing the last tag removes the image, as ECR does
    await call(ctx, "BatchDeleteImage", repositoryName="app", imageIds=[{"imageTag": "v1.1"}])
    by_digest = await call(
        ctx, "BatchDeleteImage", repositoryName="app",
        imageIds=[{"imageDigest": b}, {"imageDigest": a}],
    )  # fmt: skip
    assert by_digest["imageIds"] == [{"imageDigest": b, "imageTag": "v2"}]
    assert [f["failureCode"] for f in by_digest["failures"]] == ["ImageNotFound"]
    assert (await call(ctx, "ListImages", repositoryName="app"))["imageIds"] == []
    await fails(
        ctx, "BatchDeleteImage", "RepositoryNotFoundException",
        repositoryName="nope", imageIds=[{"imageTag": "x"}],
    )  # fmt: skip


async def test_put_image_pushes_through_the_registry(services: Services) -> None:
    ctx = context(services)
    await _repo(services)
    image = _image("p", layers=2)
    manifest = image.manifest.decode()
    await fails(
        ctx, "PutImage", "LayersNotFoundException",
        repositoryName="app", imageManifest=manifest, imageTag="v1",
    )  # fmt: skip
    for blob in (image.config, *(layer.blob for layer in image.layers)):
        upload_blob(services, "app", blob)
    put = await call(ctx, "PutImage", repositoryName="app", imageManifest=manifest, imageTag="v1")
    assert put["image"]["imageId"] == {"imageDigest": sha256(image.manifest), "imageTag": "v1"}
    assert put["image"]["imageManifestMediaType"] == OCI_MANIFEST
    await fails(
        ctx, "PutImage", "ImageAlreadyExistsException",
        repositoryName="app", imageManifest=manifest, imageTag="v1",
    )  # fmt: skip
    again = await call(ctx, "PutImage", repositoryName="app", imageManifest=manifest, imageTag="v2")
    assert again["image"]["imageId"]["imageTag"] == "v2"
    await fails(
        ctx, "PutImage", "ImageDigestDoesNotMatchException",
        repositoryName="app", imageManifest=manifest, imageDigest="sha256:" + "1" * 64,
    )  # fmt: skip
    await fails(
        ctx, "PutImage", "InvalidParameterException",
        repositoryName="app", imageManifest="{not json", imageTag="v3",
    )  # fmt: skip
    await fails(
        ctx, "PutImage", "RepositoryNotFoundException",
        repositoryName="nope", imageManifest=manifest, imageTag="v1",
    )  # fmt: skip
    # the push event reached the outbox: the scanner sees it like a /v2 push
    assert services.worker.dispatch() >= 1


async def test_layer_availability_and_download_url(services: Services) -> None:
    ctx = context(services)
    await _repo(services)
    image = _image("l")
    push_image(services, "app", image, "v1")
    layer = image.layers[0]
    missing = "sha256:" + "2" * 64
    got = await call(
        ctx, "BatchCheckLayerAvailability", repositoryName="app",
        layerDigests=[layer.digest, missing],
    )  # fmt: skip
    assert got["layers"] == [
        {
            "layerDigest": layer.digest,
            "layerAvailability": "AVAILABLE",
            "layerSize": len(layer.blob),
        }
    ]
    assert [(f["layerDigest"], f["failureCode"]) for f in got["failures"]] == [
        (missing, "MissingLayerDigest")
    ]
    url = await call(ctx, "GetDownloadUrlForLayer", repositoryName="app", layerDigest=layer.digest)
    settings = services.settings
    assert url == {
        "downloadUrl": f"http://{settings.host}:{settings.port}/v2/app/blobs/{layer.digest}",
        "layerDigest": layer.digest,
    }
    await fails(
        ctx, "GetDownloadUrlForLayer", "LayersNotFoundException",
        repositoryName="app", layerDigest=missing,
    )  # fmt: skip
