"""ECR repository operations: CreateRepository, DeleteRepository, DescribeRepositories,
PutImageTagMutability, over the registry and scanning services."""

from __future__ import annotations

from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.api.aws.errors import AwsError
from dockwatch.model.identity import repository_arn

from .common import (
    check_registry,
    check_repository_name,
    invalid,
    page_of,
    repository_doc,
    repository_name,
    repository_not_found,
    repository_row,
    run,
)
from .tagging import check_tags

MUTABILITIES = ("MUTABLE", "IMMUTABLE")
"""The tag mutability settings dockwatch enforces (the *_WITH_EXCLUSION ones are refused)."""


def _mutability(value: Any) -> str:
    if value in MUTABILITIES:
        return str(value)
    if value in ("IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION"):
        raise invalid(f"imageTagMutability {value} is not supported: use MUTABLE or IMMUTABLE")
    raise invalid(f"imageTagMutability must be one of {', '.join(MUTABILITIES)}, not {value!r}")


def _encryption(body: dict[str, Any]) -> None:
    config = body.get("encryptionConfiguration")
    if config is not None and config.get("encryptionType") != "AES256":
        raise invalid(
            f"encryptionType {config.get('encryptionType')!r} is not supported: "
            "dockwatch repositories report AES256"
        )


async def create_repository(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """CreateRepository: settings stored on the repository, tags as resource tags."""
    check_registry(ctx, body)
    name = repository_name(body)
    mutability = _mutability(body.get("imageTagMutability", "MUTABLE"))
    if body.get("imageTagMutabilityExclusionFilters"):
        raise invalid("imageTagMutabilityExclusionFilters are not supported")
    _encryption(body)
    tags = check_tags(body.get("tags") or [])
    scan_on_push = bool((body.get("imageScanningConfiguration") or {}).get("scanOnPush", False))
    services = ctx.services

    def create() -> dict[str, Any]:
        now = services.clock.now()
        with services.store.write() as uow:
            if uow.registry.get_repository(ctx.tenant, name) is not None:
                raise AwsError(
                    "RepositoryAlreadyExistsException",
                    f"The repository with name '{name}' already exists in the registry with id "
                    f"'{ctx.tenant.account_id}'",
                )
            row = uow.registry.ensure_repository(ctx.tenant, name, now)
            uow.registry.set_repository_settings(row.id, tag_mutability=mutability)
            uow.ecr.set_resource_tags(ctx.tenant, repository_arn(ctx.tenant, name), tags)
        if scan_on_push:
            services.scanner.set_scan_on_push(name, True)
        with services.store.read() as uow:
            return repository_doc(ctx, repository_row(uow, ctx, name))

    return {"repository": await run(create)}


async def delete_repository(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """DeleteRepository: refused while images remain unless `force`; with `force` every image
    is deleted through the registry (events follow) and its findings closed first."""
    check_registry(ctx, body)
    name = repository_name(body)
    force = bool(body.get("force", False))
    services = ctx.services

    def delete() -> dict[str, Any]:
        with services.store.read() as uow:
            row = repository_row(uow, ctx, name)
            digests = [m.digest for m in uow.registry.manifests_of(row.id)]
        doc = repository_doc(ctx, row)
        if digests and not force:
            raise AwsError(
                "RepositoryNotEmptyException",
                f"The repository with name '{name}' in registry with id "
                f"'{ctx.tenant.account_id}' cannot be deleted because it still contains images",
            )
        # indexes first: their children are still referenced until the index goes
        for digest in reversed(digests):
            services.registry.manifests.delete(name, digest)
            services.scanner.close_image(name, digest)
        with services.store.write() as uow:
            uow.ecr.delete_repository(ctx.tenant, row.id, repository_arn(ctx.tenant, name))
        return doc

    return {"repository": await run(delete)}


async def describe_repositories(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """DescribeRepositories: the named repositories (each must exist) or all, by name, paged."""
    check_registry(ctx, body)
    names = body.get("repositoryNames")
    if names is not None and body.get("maxResults") is not None:
        raise invalid("maxResults cannot be used together with repositoryNames")
    if names is not None:
        for n in names:
            check_repository_name(n)

    def describe() -> dict[str, Any]:
        with ctx.services.store.read() as uow:
            rows = uow.registry.repository_rows(ctx.tenant)
        if names is not None:
            by_name = {r.name: r for r in rows}
            missing = [n for n in names if n not in by_name]
            if missing:
                raise repository_not_found(ctx, missing[0])
            rows = [by_name[n] for n in dict.fromkeys(names)]
        page = page_of(len(rows), body, {"op": "DescribeRepositories", "names": names})
        out: dict[str, Any] = {
            "repositories": [
                repository_doc(ctx, r) for r in rows[page.start : page.start + page.size]
            ]
        }
        if page.token:
            out["nextToken"] = page.token
        return out

    return await run(describe)


async def put_image_tag_mutability(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """PutImageTagMutability: IMMUTABLE makes the registry refuse to move an existing tag."""
    registry_id = check_registry(ctx, body)
    name = repository_name(body)
    mutability = _mutability(body.get("imageTagMutability"))
    if body.get("imageTagMutabilityExclusionFilters"):
        raise invalid("imageTagMutabilityExclusionFilters are not supported")

    def put() -> None:
        with ctx.services.store.write() as uow:
            row = repository_row(uow, ctx, name)
            uow.registry.set_repository_settings(row.id, tag_mutability=mutability)

    await run(put)
    return {"registryId": registry_id, "repositoryName": name, "imageTagMutability": mutability}


OPERATIONS: dict[str, Handler] = {
    "CreateRepository": create_repository,
    "DeleteRepository": delete_repository,
    "DescribeRepositories": describe_repositories,
    "PutImageTagMutability": put_image_tag_mutability,
}
