"""Scanning endpoints: registry scanning configuration, re-scan duration, image findings."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from starlette.requests import Request

from dockwatch.app import Services
from dockwatch.errors import InvalidInput
from dockwatch.model.oci import INDEX_TYPES
from dockwatch.registry.manifests import Manifests
from dockwatch.scan.status import ecr_status
from dockwatch.storage.sql import finding_repo
from dockwatch.storage.sql import registry_repo as registry_sql
from dockwatch.storage.sql import scan_repo as sql

from .body import json_body

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNTRIAGED")


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
    from dockwatch.scan.config import parse_configuration

    proposed = parse_configuration(await _json(request))

    def run() -> list[dict[str, Any]]:
        with services.db.read() as conn:
            repos = registry_sql.repository_rows(conn, services.tenant)
        return proposed.preview((r.name, r.scan_on_push) for r in repos)

    return {"scanType": proposed.scan_type.value, "repositories": await to_thread.run_sync(run)}


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

    def run() -> None:
        repo = services.registry.ctx.repository(name)
        with services.db.write() as conn:
            registry_sql.set_repository_settings(conn, repo.id, scan_on_push=flag)

    await to_thread.run_sync(run)
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


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _index_findings(services: Services, name: str, repo_id: int, digest: str) -> dict[str, Any]:
    """An index's platform images reported together (Inspector scans no lists; dockwatch scans
    each platform image on its own and shows them side by side here)."""
    import json

    with services.db.read() as conn:
        stored = registry_sql.manifest_content(conn, digest)
        children = json.loads(stored[0]).get("manifests", []) if stored else []
        platforms = []
        counts: dict[str, int] = {}
        for child in children:
            child_digest = child.get("digest")
            state = sql.get_scan(conn, repo_id, child_digest)
            found = [
                f
                for f in finding_repo.findings_of(conn, repo_id, child_digest)
                if f.status == "ACTIVE"
            ]
            for f in found:
                counts[f.severity] = counts.get(f.severity, 0) + 1
            platform = child.get("platform") or {}
            platforms.append(
                {
                    "platform": "/".join(
                        p
                        for p in (
                            platform.get("os"),
                            platform.get("architecture"),
                            platform.get("variant"),
                        )
                        if p
                    ),
                    "imageDigest": child_digest,
                    "imageScanStatus": None
                    if state is None
                    else {"statusCode": state.status_code, "reason": state.reason},
                    "findingIds": [f.id for f in found],
                }
            )
    return {
        "registryId": services.tenant.account_id,
        "repositoryName": name,
        "imageId": {"imageDigest": digest},
        "imageScanStatus": {
            "status": "ACTIVE" if any(p["imageScanStatus"] for p in platforms) else "PENDING",
            "description": "image index: see platforms",
        },
        "imageScanFindings": {
            "findingSeverityCounts": {s: counts[s] for s in SEVERITIES if s in counts}
        },
        "platforms": platforms,
    }


async def image_findings(services: Services, request: Request) -> dict[str, Any]:
    """ECR DescribeImageScanFindings for one image resource."""
    name = request.path_params["name"]
    reference = request.path_params["reference"]

    def run() -> dict[str, Any]:
        repo, row = Manifests(services.registry.ctx).resolve(name, reference)
        if row.media_type in INDEX_TYPES:
            return _index_findings(services, name, repo.id, row.digest)
        with services.db.read() as conn:
            state = sql.get_scan(conn, repo.id, row.digest)
            basic, _ = sql.basic_result(conn, repo.id, row.digest)
            found = [
                f
                for f in finding_repo.findings_of(conn, repo.id, row.digest)
                if f.status != "CLOSED"
            ]
            tags = registry_sql.tags_of(conn, repo.id, row.digest)
        counts: dict[str, int] = {}
        for f in found:
            if f.status == "ACTIVE":
                counts[f.severity] = counts.get(f.severity, 0) + 1
        if state is not None and state.scan_type == "BASIC":
            basic_counts: dict[str, int] = {}
            for b in basic or []:
                basic_counts[b["severity"]] = basic_counts.get(b["severity"], 0) + 1
            return {
                "registryId": services.tenant.account_id,
                "repositoryName": name,
                "imageId": {"imageDigest": row.digest, "imageTag": tags[0] if tags else None},
                "imageScanStatus": {
                    "status": ecr_status(state),
                    "description": state.unsupported_os or state.reason,
                },
                "imageScanFindings": {
                    "imageScanCompletedAt": _iso(state.last_scanned_at),
                    "findingSeverityCounts": basic_counts,
                    "findings": basic or [],
                },
            }
        status = {
            "status": ecr_status(state),
            "description": "not scanned yet"
            if state is None
            else (state.unsupported_os or state.reason),
        }
        order = {s: i for i, s in enumerate(SEVERITIES)}
        found.sort(key=lambda f: (order.get(f.severity, 9), f.vulnerability_id))
        return {
            "registryId": services.tenant.account_id,
            "repositoryName": name,
            "imageId": {"imageDigest": row.digest, "imageTag": tags[0] if tags else None},
            "imageScanStatus": status,
            "imageScanFindings": {
                "imageScanCompletedAt": _iso(state.last_scanned_at) if state else None,
                "findingSeverityCounts": {s: counts[s] for s in SEVERITIES if s in counts},
                "enhancedFindings": [
                    {
                        "findingArn": f"arn:aws:inspector2:{services.tenant.region}:{services.tenant.account_id}:finding/{f.id}",
                        "awsAccountId": services.tenant.account_id,
                        "status": f.status,
                        "severity": f.severity,
                        "fixAvailable": f.fix_available,
                        "firstObservedAt": _iso(f.first_observed_at),
                        "lastObservedAt": _iso(f.last_observed_at),
                        "updatedAt": _iso(f.updated_at),
                        **{k: v for k, v in f.detail.items() if k != "evidence"},
                        "score": f.detail.get("inspectorScore"),
                        "evidence": f.detail.get("evidence"),
                    }
                    for f in found
                ],
            },
        }

    return await to_thread.run_sync(run)
