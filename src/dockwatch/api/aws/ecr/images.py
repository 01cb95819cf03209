"""ECR image operations: ListImages, DescribeImages, BatchGetImage, BatchDeleteImage, PutImage,
over the registry service (pushes and deletes go through it, so events and scans follow)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.api.aws.errors import AwsError
from dockwatch.api.v1.scanning import image_scan_fields
from dockwatch.errors import InvalidInput
from dockwatch.model.oci import ImageIndex, manifest_digest, parse_manifest
from dockwatch.registry.errors import (
    DigestInvalidError,
    ManifestBlobUnknown,
    ManifestUnknown,
    TagImmutable,
)
from dockwatch.registry.manifests import accepts
from dockwatch.storage.registry_repo import ManifestRow
from dockwatch.storage.unit_of_work import UnitOfWork

from .common import (
    check_registry,
    image_id_text,
    invalid,
    page_of,
    repository_name,
    repository_row,
    resolve_image_id,
    run,
)

TAG_STATUSES = ("TAGGED", "UNTAGGED", "ANY")


def _tag_status(body: dict[str, Any]) -> str:
    status = (body.get("filter") or {}).get("tagStatus", "ANY")
    if status not in TAG_STATUSES:
        raise invalid(f"tagStatus must be one of {', '.join(TAG_STATUSES)}, not {status!r}")
    return str(status)


def _keep(tags: list[str], status: str) -> bool:
    return status == "ANY" or (status == "TAGGED") == bool(tags)


def image_size(uow: UnitOfWork, digest: str, depth: int = 0) -> int:
    """ECR's imageSizeInBytes: the image's layers added up; for an index, its largest image."""
    stored = uow.registry.manifest_content(digest)
    if stored is None:
        return 0
    try:
        parsed = parse_manifest(stored.content, stored.media_type, strict=False)
    except ValueError:
        return 0
    if isinstance(parsed, ImageIndex):
        if depth > 2:
            return 0
        return max((image_size(uow, d.digest, depth + 1) for d in parsed.manifests), default=0)
    return sum(d.size for d in parsed.layers)


def _config_media_type(uow: UnitOfWork, row: ManifestRow) -> str | None:
    if row.artifact_type:
        return row.artifact_type
    stored = uow.registry.manifest_content(row.digest)
    try:
        config = json.loads(stored.content).get("config") if stored else None
    except ValueError:
        return None
    media_type = config.get("mediaType") if isinstance(config, dict) else None
    return media_type if isinstance(media_type, str) else None


def _times(summary: dict[str, Any]) -> dict[str, Any]:
    """The scan summary's ISO times as datetimes (the protocol adapter serializes them)."""
    return {
        k: datetime.fromisoformat(v) if k.endswith("At") and isinstance(v, str) else v
        for k, v in summary.items()
    }


async def list_images(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """ListImages: one id per tag, and one digest-only id per untagged image."""
    check_registry(ctx, body)
    name = repository_name(body)
    status = _tag_status(body)

    def list_ids() -> dict[str, Any]:
        ids: list[dict[str, Any]] = []
        with ctx.services.store.read() as uow:
            row = repository_row(uow, ctx, name)
            for m in uow.registry.manifests_of(row.id):
                tags = uow.registry.tags_of(row.id, m.digest)
                if not _keep(tags, status):
                    continue
                ids += [{"imageDigest": m.digest, "imageTag": t} for t in tags] or [
                    {"imageDigest": m.digest}
                ]
        page = page_of(len(ids), body, {"op": "ListImages", "repo": name, "status": status})
        out: dict[str, Any] = {"imageIds": ids[page.start : page.start + page.size]}
        if page.token:
            out["nextToken"] = page.token
        return out

    return await run(list_ids)


def _detail(ctx: AwsContext, uow: UnitOfWork, name: str, row: ManifestRow) -> dict[str, Any]:
    tags = uow.ecr.tags_newest_first(row.repository_id, row.digest)
    detail: dict[str, Any] = {
        "registryId": ctx.tenant.account_id,
        "repositoryName": name,
        "imageDigest": row.digest,
        "imageSizeInBytes": image_size(uow, row.digest),
        "imagePushedAt": row.image_pushed_at,
        "imageManifestMediaType": row.media_type,
        "imageStatus": "ACTIVE",
    }
    if tags:
        detail["imageTags"] = tags
    if row.last_pulled_at is not None:
        detail["lastRecordedPullTime"] = row.last_pulled_at
    artifact = _config_media_type(uow, row)
    if artifact:
        detail["artifactMediaType"] = artifact
    if row.subject_digest:
        detail["subjectManifestDigest"] = row.subject_digest
    return detail


async def describe_images(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """DescribeImages: the named images (ImageNotFoundException for one that is missing) or
    every image passing the tag filter, with its scan status and findings summary."""
    check_registry(ctx, body)
    name = repository_name(body)
    status = _tag_status(body)
    image_ids = body.get("imageIds")

    def describe() -> dict[str, Any]:
        with ctx.services.store.read() as uow:
            repo = repository_row(uow, ctx, name)
            if image_ids is not None:
                digests: list[str] = []
                for image_id in image_ids:
                    found = resolve_image_id(uow, repo.id, image_id)
                    if found.digest is None:
                        raise AwsError(
                            "ImageNotFoundException",
                            f"The image with imageId {image_id_text(image_id)} does not exist "
                            f"within the repository with name '{name}' in the registry with id "
                            f"'{ctx.tenant.account_id}'",
                        )
                    digests.append(found.digest)
                by_digest: dict[str, ManifestRow] = {
                    m.digest: m for m in uow.registry.manifests_of(repo.id)
                }
                rows = [by_digest[d] for d in dict.fromkeys(digests)]
            else:
                rows = [
                    m
                    for m in uow.registry.manifests_of(repo.id)
                    if _keep(uow.registry.tags_of(repo.id, m.digest), status)
                ]
            bound = {"op": "DescribeImages", "repo": name, "status": status, "ids": image_ids}
            page = page_of(len(rows), body, bound)
            rows = rows[page.start : page.start + page.size]
            scans = image_scan_fields(uow, ctx.tenant, repo.id, [r.digest for r in rows])
            details = []
            for r in rows:
                d = _detail(ctx, uow, name, r)
                fields = scans.get(r.digest)
                if fields:
                    d["imageScanStatus"] = fields["imageScanStatus"]
                    d["imageScanFindingsSummary"] = _times(fields["imageScanFindingsSummary"])
                details.append(d)
        out: dict[str, Any] = {"imageDetails": details}
        if page.token:
            out["nextToken"] = page.token
        return out

    return await run(describe)


async def batch_get_image(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """BatchGetImage: manifests as stored, served only in an accepted media type; a pull is
    recorded (lastRecordedPullTime), as a `/v2` manifest GET records it."""
    check_registry(ctx, body)
    name = repository_name(body)
    accepted = list(body.get("acceptedMediaTypes") or [])

    def get() -> dict[str, Any]:
        images: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        with ctx.services.store.read() as uow:
            repo = repository_row(uow, ctx, name)
            resolved = [resolve_image_id(uow, repo.id, i) for i in body.get("imageIds") or []]
        for found in resolved:
            if found.digest is None:
                failures.append(found.failure())
                continue
            try:
                served = ctx.services.registry.manifests.get(
                    name, found.digest, accepted, record_pull=True
                )
            except ManifestUnknown:
                failures.append({**found.failure(), "failureCode": "ImageNotFound",
                                 "failureReason": "Requested image not found"})  # fmt: skip
                continue
            if not accepts(accepted, served.media_type):
                failures.append({**found.failure(), "failureCode": "ImageNotFound",
                                 "failureReason": f"The image's manifest type {served.media_type}"
                                 " is not among acceptedMediaTypes"})  # fmt: skip
                continue
            image_id = {"imageDigest": served.digest}
            if found.image_id.get("imageTag"):
                image_id["imageTag"] = found.image_id["imageTag"]
            images.append(
                {
                    "registryId": ctx.tenant.account_id,
                    "repositoryName": name,
                    "imageId": image_id,
                    "imageManifest": served.content.decode(),
                    "imageManifestMediaType": served.media_type,
                }
            )
        return {"images": images, "failures": failures}

    return await run(get)


async def batch_delete_image(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """BatchDeleteImage: by digest the image and its tags go; by tag the tag goes, and the image
    with it when that was its last tag (ECR's rule)."""
    check_registry(ctx, body)
    name = repository_name(body)
    manifests = ctx.services.registry.manifests

    def delete() -> dict[str, Any]:
        deleted: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for image_id in body.get("imageIds") or []:
            with ctx.services.store.read() as uow:
                repo = repository_row(uow, ctx, name)
                found = resolve_image_id(uow, repo.id, image_id)
            if found.digest is None:
                failures.append(found.failure())
                continue
            tag = found.image_id.get("imageTag")
            try:
                if tag:
                    manifests.delete(name, tag)
                    with ctx.services.store.read() as uow:
                        last = not uow.registry.tags_of(repo.id, found.digest)
                    if last:
                        manifests.delete(name, found.digest)
                    deleted.append({"imageDigest": found.digest, "imageTag": tag})
                else:
                    with ctx.services.store.read() as uow:
                        tags = uow.registry.tags_of(repo.id, found.digest)
                    manifests.delete(name, found.digest)
                    deleted += [{"imageDigest": found.digest, "imageTag": t} for t in tags] or [
                        {"imageDigest": found.digest}
                    ]
            except ManifestUnknown:
                failures.append({**found.failure(), "failureCode": "ImageNotFound",
                                 "failureReason": "Requested image not found"})  # fmt: skip
        return {"imageIds": deleted, "failures": failures}

    return await run(delete)


async def put_image(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """PutImage: a manifest (and tag) through the registry's push, with ECR's errors."""
    check_registry(ctx, body)
    name = repository_name(body)
    manifest = body.get("imageManifest")
    if not isinstance(manifest, str) or not manifest:
        raise invalid("imageManifest is required")
    content = manifest.encode()
    media_type = body.get("imageManifestMediaType")
    tag, digest = body.get("imageTag"), body.get("imageDigest")
    computed = manifest_digest(content)
    if digest is not None and digest != computed:
        raise AwsError(
            "ImageDigestDoesNotMatchException",
            f"The image digest '{digest}' does not match the digest of the manifest '{computed}'",
        )
    services = ctx.services

    def put() -> dict[str, Any]:
        with services.store.read() as uow:
            repo = repository_row(uow, ctx, name)
            existing = uow.registry.get_manifest(repo.id, computed)
            current = uow.registry.tag_digest(repo.id, tag) if tag else None
        if existing is not None and (current == computed if tag else True):
            raise AwsError(
                "ImageAlreadyExistsException",
                f"Image with digest '{computed}'"
                + (f" and tag '{tag}'" if tag else "")
                + f" already exists in the repository with name '{name}' in registry with id "
                f"'{ctx.tenant.account_id}'",
            )
        try:
            pushed = services.registry.manifests.put(name, tag or computed, content, media_type)
        except TagImmutable as exc:
            raise AwsError(
                "ImageTagAlreadyExistsException",
                f"The image tag '{tag}' already exists in the '{name}' repository and cannot be "
                "overwritten because the repository is immutable.",
            ) from exc
        except ManifestBlobUnknown as exc:
            raise AwsError(
                "LayersNotFoundException",
                "The following layers or manifests are not found in the repository: "
                + ", ".join(exc.digests),
            ) from exc
        except DigestInvalidError as exc:
            raise AwsError("ImageDigestDoesNotMatchException", str(exc)) from exc
        except InvalidInput as exc:
            raise invalid(str(exc)) from exc
        image_id = {"imageDigest": pushed.digest}
        if tag:
            image_id["imageTag"] = tag
        return {
            "image": {
                "registryId": ctx.tenant.account_id,
                "repositoryName": name,
                "imageId": image_id,
                "imageManifest": manifest,
                "imageManifestMediaType": pushed.media_type,
            }
        }

    return await run(put)


OPERATIONS: dict[str, Handler] = {
    "ListImages": list_images,
    "DescribeImages": describe_images,
    "BatchGetImage": batch_get_image,
    "BatchDeleteImage": batch_delete_image,
    "PutImage": put_image,
}
