"""ECR scanning operations: PutImageScanningConfiguration, StartImageScan,
DescribeImageScanFindings (basic and enhanced shapes), Put/GetRegistryScanningConfiguration,
BatchGetRepositoryScanningConfiguration, over the scanning service."""

from __future__ import annotations

from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.api.aws.errors import AwsError
from dockwatch.errors import InvalidInput
from dockwatch.model.identity import repository_arn
from dockwatch.model.oci import INDEX_TYPES
from dockwatch.scan.config import ScanFrequency, ScanType
from dockwatch.scan.service import LimitExceeded, ManualScanUnsupported
from dockwatch.storage.registry_repo import ManifestRow, RepositoryRow
from dockwatch.storage.unit_of_work import UnitOfWork

from .common import (
    Resolved,
    check_registry,
    check_repository_name,
    image_id_text,
    page_of,
    repository_name,
    repository_not_found,
    repository_row,
    resolve_image_id,
    run,
)
from .findings import scan_findings

MAX_BATCH_REPOSITORIES = 25
"""ECR's bound on `repositoryNames` in BatchGetRepositoryScanningConfiguration."""


def _image_not_found(ctx: AwsContext, name: str, image_id: dict[str, Any]) -> AwsError:
    return AwsError(
        "ImageNotFoundException",
        f"The image with imageId {image_id_text(image_id)} does not exist within the repository "
        f"with name '{name}' in the registry with id '{ctx.tenant.account_id}'",
    )


async def put_image_scanning_configuration(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """PutImageScanningConfiguration: the per-repository scan-on-push flag (basic scanning)."""
    registry_id = check_registry(ctx, body)
    name = repository_name(body)
    flag = bool(body["imageScanningConfiguration"].get("scanOnPush", False))

    def put() -> None:
        with ctx.services.store.read() as uow:
            repository_row(uow, ctx, name)
        ctx.services.scanner.set_scan_on_push(name, flag)

    await run(put)
    return {
        "registryId": registry_id,
        "repositoryName": name,
        "imageScanningConfiguration": {"scanOnPush": flag},
    }


async def start_image_scan(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """StartImageScan: a basic scan, once per image per 24 hours. Under enhanced scanning ECR
    answers ValidationException "This feature is disabled" (manual scans are basic only)."""
    registry_id = check_registry(ctx, body)
    name = repository_name(body)
    image_id = body["imageId"]

    def start() -> dict[str, Any]:
        with ctx.services.store.read() as uow:
            repo, found, row = _stored_image(uow, ctx, name, image_id)
        if row.media_type in INDEX_TYPES or row.artifact_type:
            raise AwsError(
                "UnsupportedImageTypeException",
                f"The image {row.digest} is a {row.media_type} manifest; scan its platform images",
            )
        try:
            digest = ctx.services.scanner.request_manual_scan(name, row.digest)
        except ManualScanUnsupported as exc:
            raise AwsError("ValidationException", "This feature is disabled") from exc
        except LimitExceeded as exc:
            raise AwsError("LimitExceededException", str(exc)) from exc
        out_id = {"imageDigest": digest}
        if found.image_id.get("imageTag"):
            out_id["imageTag"] = found.image_id["imageTag"]
        return {
            "registryId": registry_id,
            "repositoryName": name,
            "imageId": out_id,
            "imageScanStatus": {"status": "IN_PROGRESS", "description": "The scan is queued."},
        }

    return await run(start)


async def describe_image_scan_findings(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """DescribeImageScanFindings: `findings` for a basic scan, `enhancedFindings` under enhanced
    scanning, paged together as ECR's paginator pages them."""
    registry_id = check_registry(ctx, body)
    name = repository_name(body)
    image_id = body["imageId"]

    def describe() -> dict[str, Any]:
        with ctx.services.store.read() as uow:
            repo, found, row = _stored_image(uow, ctx, name, image_id)
            result = scan_findings(uow, ctx.tenant, name, repo.id, row.digest)
        if result is None and row.media_type not in INDEX_TYPES:
            result = _awaiting_scan(ctx, name, repo.scan_on_push)
        if result is None or row.media_type in INDEX_TYPES:
            raise AwsError(
                "ScanNotFoundException",
                f"Image scan does not exist for the image with '{image_id_text(image_id)}' in the "
                f"repository with name '{name}' in the registry with id '{registry_id}'",
            )
        status, findings_doc, key = result
        items = findings_doc.pop(key)
        bound = {"op": "DescribeImageScanFindings", "repo": name, "digest": row.digest}
        page = page_of(len(items), body, bound)
        findings_doc[key] = items[page.start : page.start + page.size]
        out_id = {"imageDigest": row.digest}
        if found.image_id.get("imageTag"):
            out_id["imageTag"] = found.image_id["imageTag"]
        out: dict[str, Any] = {
            "registryId": registry_id,
            "repositoryName": name,
            "imageId": out_id,
            "imageScanStatus": status,
            "imageScanFindings": findings_doc,
        }
        if page.token:
            out["nextToken"] = page.token
        return out

    return await run(describe)


async def put_registry_scanning_configuration(
    ctx: AwsContext, body: dict[str, Any]
) -> dict[str, Any]:
    """PutRegistryScanningConfiguration: scan type and rules, applied at once."""
    wanted = {"scanType": body.get("scanType", "BASIC"), "rules": body.get("rules") or []}

    def put() -> dict[str, Any]:
        try:
            config = ctx.services.scanner.put_scanning_configuration(wanted)
        except InvalidInput as exc:
            raise AwsError("ValidationException", str(exc)) from exc
        return config.to_wire()

    return {"registryScanningConfiguration": await run(put)}


async def get_registry_scanning_configuration(
    ctx: AwsContext, body: dict[str, Any]
) -> dict[str, Any]:
    """GetRegistryScanningConfiguration (BASIC with no rules until one is put)."""
    config, _ = await run(ctx.services.scanner.settings)
    return {"registryId": ctx.tenant.account_id, "scanningConfiguration": config.to_wire()}


async def batch_get_repository_scanning_configuration(
    ctx: AwsContext, body: dict[str, Any]
) -> dict[str, Any]:
    """BatchGetRepositoryScanningConfiguration: each repository's frequency and the filters
    that decided it; missing repositories are failures."""
    names = list(body.get("repositoryNames") or [])
    if not 1 <= len(names) <= MAX_BATCH_REPOSITORIES:
        raise AwsError(
            "ValidationException",
            f"repositoryNames must hold 1 to {MAX_BATCH_REPOSITORIES} names, not {len(names)}",
        )
    for n in names:
        check_repository_name(n)

    def get() -> dict[str, Any]:
        config, _ = ctx.services.scanner.settings()
        with ctx.services.store.read() as uow:
            rows = {r.name: r for r in uow.registry.repository_rows(ctx.tenant)}
        found: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for n in dict.fromkeys(names):
            row = rows.get(n)
            if row is None:
                failures.append({"repositoryName": n, "failureCode": "REPOSITORY_NOT_FOUND",
                                 "failureReason": repository_not_found(ctx, n).message})  # fmt: skip
                continue
            frequency = config.frequency_for(n, row.scan_on_push)
            found.append(
                {
                    "repositoryArn": repository_arn(ctx.tenant, n),
                    "repositoryName": n,
                    "scanOnPush": frequency.value != "MANUAL",
                    "scanFrequency": frequency.value,
                    "appliedScanFilters": [
                        {"filter": f.filter, "filterType": "WILDCARD"}
                        for f in config.applied_filters(n)
                    ],
                }
            )
        return {"scanningConfigurations": found, "failures": failures}

    return await run(get)


OPERATIONS: dict[str, Handler] = {
    "PutImageScanningConfiguration": put_image_scanning_configuration,
    "StartImageScan": start_image_scan,
    "DescribeImageScanFindings": describe_image_scan_findings,
    "PutRegistryScanningConfiguration": put_registry_scanning_configuration,
    "GetRegistryScanningConfiguration": get_registry_scanning_configuration,
    "BatchGetRepositoryScanningConfiguration": batch_get_repository_scanning_configuration,
}


def _awaiting_scan(
    ctx: AwsContext, name: str, scan_on_push: bool
) -> tuple[dict[str, Any], dict[str, Any], str] | None:
    """A pushed image its repository scans on push (or continuously) but the worker has not
    reached yet: ECR answers IN_PROGRESS from the push on (its waiter polls through it), not
    ScanNotFoundException, which is for images no scan was ever started for."""
    config, _ = ctx.services.scanner.settings()
    if config.frequency_for(name, scan_on_push) is ScanFrequency.MANUAL:
        return None
    key = "enhancedFindings" if config.scan_type is ScanType.ENHANCED else "findings"
    status = {"status": "IN_PROGRESS", "description": "The scan is in progress."}
    return status, {"findingSeverityCounts": {}, key: []}, key


def _stored_image(
    uow: UnitOfWork, ctx: AwsContext, name: str, image_id: dict[str, Any]
) -> tuple[RepositoryRow, Resolved, ManifestRow]:
    """The repository, the resolved `imageId` and the manifest it names;
    ImageNotFoundException when there is none."""
    repo = repository_row(uow, ctx, name)
    found = resolve_image_id(uow, repo.id, image_id)
    row = None if found.digest is None else uow.registry.get_manifest(repo.id, found.digest)
    if row is None:
        raise _image_not_found(ctx, name, image_id)
    return repo, found, row
