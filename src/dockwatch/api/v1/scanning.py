"""Scanning endpoints: registry scanning configuration, re-scan duration, image findings."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from starlette.requests import Request

from dockwatch.app import Services
from dockwatch.errors import InvalidInput
from dockwatch.model.oci import INDEX_TYPES
from dockwatch.registry.manifests import Manifests
from dockwatch.scan.config import parse_configuration
from dockwatch.scan.reports import image_findings as image_findings_of
from dockwatch.scan.reports import index_findings

from .body import json_body


async def _json(request: Request) -> Any:
    try:
        return json_body(request)
    except ValueError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}") from exc


async def get_scanning_configuration(services: Services, request: Request) -> dict[str, Any]:
    """ECR GetRegistryScanningConfiguration."""
    config, _ = await to_thread.run_sync(services.scanner.settings)
    return {"registryId": services.tenant.account_id, "scanningConfiguration": config.to_wire()}


async def put_scanning_configuration(services: Services, request: Request) -> dict[str, Any]:
    """ECR PutRegistryScanningConfiguration."""
    body = await _json(request)
    config = await to_thread.run_sync(services.scanner.put_scanning_configuration, body)
    return {"registryScanningConfiguration": config.to_wire()}


async def preview_scanning_configuration(services: Services, request: Request) -> dict[str, Any]:
    """Which repositories a proposed configuration would scan, and how; nothing is saved."""
    proposed = parse_configuration(await _json(request))

    repositories = await to_thread.run_sync(services.scanner.preview, proposed)
    return {"scanType": proposed.scan_type.value, "repositories": repositories}


async def get_configuration(services: Services, request: Request) -> dict[str, Any]:
    """Inspector GetConfiguration (`ecrConfiguration`)."""
    _, ecr = await to_thread.run_sync(services.scanner.settings)
    return {"ecrConfiguration": ecr.to_wire()}


async def put_configuration(services: Services, request: Request) -> dict[str, Any]:
    """Inspector UpdateConfiguration."""
    body = await _json(request)
    if not isinstance(body, dict) or not isinstance(body.get("ecrConfiguration"), dict):
        raise InvalidInput('the body must be {"ecrConfiguration": {...}}')
    ecr = await to_thread.run_sync(services.scanner.put_ecr_configuration, body["ecrConfiguration"])
    return {"ecrConfiguration": ecr.to_wire()}


async def put_repository_scanning(services: Services, request: Request) -> dict[str, Any]:
    """ECR PutImageScanningConfiguration (the legacy per-repository scan-on-push flag)."""
    name = request.path_params["name"]
    body = await _json(request)
    flag = body.get("scanOnPush") if isinstance(body, dict) else None
    if not isinstance(flag, bool):
        raise InvalidInput("scanOnPush must be true or false")

    await to_thread.run_sync(services.scanner.set_scan_on_push, name, flag)
    return {
        "registryId": services.tenant.account_id,
        "repositoryName": name,
        "imageScanningConfiguration": {"scanOnPush": flag},
    }


async def start_image_scan(services: Services, request: Request) -> dict[str, Any]:
    """ECR StartImageScan (basic scanning only, once per image per 24 hours)."""
    name = request.path_params["name"]
    reference = request.path_params["reference"]
    digest = await to_thread.run_sync(services.scanner.request_manual_scan, name, reference)
    return {
        "registryId": services.tenant.account_id,
        "repositoryName": name,
        "imageId": {"imageDigest": digest},
        "imageScanStatus": {"status": "IN_PROGRESS", "description": "queued"},
    }


async def image_findings(services: Services, request: Request) -> dict[str, Any]:
    """ECR DescribeImageScanFindings for one image resource."""
    name = request.path_params["name"]
    reference = request.path_params["reference"]

    def run() -> dict[str, Any]:
        repo, row = Manifests(services.registry.ctx).resolve(name, reference)
        report = index_findings if row.media_type in INDEX_TYPES else image_findings_of
        return report(services.store, services.tenant, name, repo.id, row.digest)

    return await to_thread.run_sync(run)
