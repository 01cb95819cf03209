"""ECR repository operations over a real store: CreateRepository's settings and tags,
RepositoryAlreadyExistsException, DescribeRepositories (names, pages, URI), DeleteRepository
(RepositoryNotEmptyException, force), PutImageTagMutability and the registry's refusal to move
an immutable tag. Requests pass botocore's validator; answers fit botocore's output shapes."""

from __future__ import annotations

import httpx
import pytest

from dockwatch.app import Services
from dockwatch.registry.errors import TagImmutable
from tests.builders.layers import OCI_MANIFEST, make_image, make_layer, sha256
from tests.builders.push import push_image, upload_blob
from tests.unit.api.aws.ecr.calls import call, context, fails

pytestmark = pytest.mark.anyio


def _image(salt: str):  # type: ignore[no-untyped-def]
    return make_image([make_layer({"salt": salt})])


async def test_create_repository_stores_its_settings_and_tags(services: Services) -> None:
    ctx = context(services)
    account, region = services.tenant.account_id, services.tenant.region
    created = await call(
        ctx,
        "CreateRepository",
        repositoryName="team/app",
        imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "AES256"},
        tags=[{"Key": "env", "Value": "prod"}, {"Key": "owner", "Value": "ops"}],
    )
    repo = created["repository"]
    assert repo["repositoryArn"] == f"arn:aws:ecr:{region}:{account}:repository/team/app"
    assert repo["repositoryUri"] == f"{account}.dkr.ecr.{region}.amazonaws.com/team/app"
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["encryptionConfiguration"] == {"encryptionType": "AES256"}
    described = await call(ctx, "DescribeRepositories", repositoryNames=["team/app"])
    assert described["repositories"] == [repo]
    tags = await call(ctx, "ListTagsForResource", resourceArn=repo["repositoryArn"])
    assert tags["tags"] == [{"Key": "env", "Value": "prod"}, {"Key": "owner", "Value": "ops"}]
    await fails(
        ctx, "CreateRepository", "RepositoryAlreadyExistsException", repositoryName="team/app"
    )


async def test_create_repository_refuses_bad_parameters(services: Services) -> None:
    ctx = context(services)
    await fails(ctx, "CreateRepository", "InvalidParameterException", repositoryName="Bad_Name")
    await fails(
        ctx, "CreateRepository", "InvalidParameterException",
        repositoryName="app", imageTagMutability="SOMETIMES",
    )  # fmt: skip
    await fails(
        ctx, "CreateRepository", "InvalidParameterException",
        repositoryName="app", encryptionConfiguration={"encryptionType": "KMS"},
    )  # fmt: skip
    await fails(
        ctx, "CreateRepository", "InvalidTagParameterException",
        repositoryName="app", tags=[{"Key": "aws:reserved", "Value": "x"}],
    )  # fmt: skip
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    await fails(ctx, "CreateRepository", "TooManyTagsException", repositoryName="app", tags=many)
    # nothing was created by the refused calls
    assert (await call(ctx, "DescribeRepositories"))["repositories"] == []


async def test_describe_repositories_pages_by_name(services: Services) -> None:
    ctx = context(services)
    names = [f"repo-{i:02d}" for i in range(7)]
    for n in reversed(names):
        await call(ctx, "CreateRepository", repositoryName=n)
    seen: list[str] = []
    body: dict[str, object] = {"maxResults": 3}
    pages = 0
    while True:
        page = await call(ctx, "DescribeRepositories", **body)
        seen += [r["repositoryName"] for r in page["repositories"]]
        pages += 1
        if "nextToken" not in page:
            break
        body = {"maxResults": 3, "nextToken": page["nextToken"]}
    assert seen == sorted(names) and pages == 3
    await fails(
        ctx, "DescribeRepositories", "RepositoryNotFoundException", repositoryNames=["nope"]
    )
    await fails(ctx, "DescribeRepositories", "InvalidParameterException", nextToken="forged-token")
    await fails(
        ctx, "DescribeRepositories", "RepositoryNotFoundException",
        registryId="999999999999", repositoryNames=["repo-00"],
    )  # fmt: skip


async def test_delete_repository_refuses_images_unless_forced(services: Services) -> None:
    ctx = context(services)
    await call(ctx, "CreateRepository", repositoryName="shop")
    digest = push_image(services, "shop", _image("a"), "v1")
    await fails(ctx, "DeleteRepository", "RepositoryNotEmptyException", repositoryName="shop")
    gone = await call(ctx, "DeleteRepository", repositoryName="shop", force=True)
    assert gone["repository"]["repositoryName"] == "shop"
    await fails(
        ctx, "DescribeRepositories", "RepositoryNotFoundException", repositoryNames=["shop"]
    )
    await fails(ctx, "DeleteRepository", "RepositoryNotFoundException", repositoryName="shop")
    # the name is free again, empty, and its image is gone from the registry
    await call(ctx, "CreateRepository", repositoryName="shop")
    assert (await call(ctx, "ListImages", repositoryName="shop"))["imageIds"] == []
    with services.store.read() as uow:
        repo = uow.registry.get_repository(services.tenant, "shop")
        assert repo is not None and uow.registry.get_manifest(repo.id, digest) is None
    services.worker.drain()  # the delete events are consumed without error
    empty = await call(ctx, "DeleteRepository", repositoryName="shop")
    assert empty["repository"]["repositoryName"] == "shop"


async def test_immutable_tags_are_not_moved(services: Services) -> None:
    ctx = context(services)
    await call(ctx, "CreateRepository", repositoryName="app")
    first = push_image(services, "app", _image("1"), "v1")
    answer = await call(
        ctx, "PutImageTagMutability", repositoryName="app", imageTagMutability="IMMUTABLE"
    )
    assert answer == {
        "registryId": services.tenant.account_id,
        "repositoryName": "app",
        "imageTagMutability": "IMMUTABLE",
    }
    second = _image("2")
    with pytest.raises(TagImmutable) as refused:  # what `/v2` renders as TAG_INVALID
        push_image(services, "app", second, "v1")
    assert "cannot be overwritten because the repository is immutable" in str(refused.value)
    await fails(
        ctx, "PutImage", "ImageTagAlreadyExistsException",
        repositoryName="app", imageManifest=second.manifest.decode(), imageTag="v1",
    )  # fmt: skip
    # a new tag is fine, and v1 still names the first image
    put = await call(
        ctx, "PutImage", repositoryName="app", imageManifest=second.manifest.decode(),
        imageTag="v2",
    )  # fmt: skip
    assert put["image"]["imageId"] == {"imageDigest": sha256(second.manifest), "imageTag": "v2"}
    ids = await call(ctx, "ListImages", repositoryName="app", filter={"tagStatus": "TAGGED"})
    assert {(i["imageTag"], i["imageDigest"]) for i in ids["imageIds"]} == {
        ("v1", first),
        ("v2", sha256(second.manifest)),
    }
    await call(ctx, "PutImageTagMutability", repositoryName="app", imageTagMutability="MUTABLE")
    push_image(services, "app", second, "v1")
    await fails(
        ctx, "PutImageTagMutability", "RepositoryNotFoundException",
        repositoryName="nope", imageTagMutability="MUTABLE",
    )  # fmt: skip


async def test_v2_push_over_an_immutable_tag_answers_tag_invalid(
    services: Services, api: httpx.AsyncClient
) -> None:
    ctx = context(services)
    await call(ctx, "CreateRepository", repositoryName="app", imageTagMutability="IMMUTABLE")
    push_image(services, "app", _image("1"), "v1")
    second = _image("2")
    for blob in (second.config, *(layer.blob for layer in second.layers)):
        upload_blob(services, "app", blob)
    answer = await api.put(
        "/v2/app/manifests/v1",
        content=second.manifest,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert answer.status_code == 400
    [error] = answer.json()["errors"]
    assert error["code"] == "TAG_INVALID"
    assert error["message"] == (
        "The image tag 'v1' already exists in the 'app' repository and cannot be overwritten "
        "because the repository is immutable."
    )
    # the same manifest under a new tag is accepted
    ok = await api.put(
        "/v2/app/manifests/v2", content=second.manifest, headers={"Content-Type": OCI_MANIFEST}
    )
    assert ok.status_code == 201
