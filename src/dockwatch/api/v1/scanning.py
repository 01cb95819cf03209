"""Scanning endpoints: registry scanning configuration, re-scan duration, image findings, and
the scan fields of image listings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from anyio import to_thread
from starlette.requests import Request

from dockwatch.app import Services
from dockwatch.errors import InvalidInput
from dockwatch.findings.build import SEVERITY_ORDER
from dockwatch.model.identity import Tenant, repository_arn
from dockwatch.model.oci import INDEX_TYPES
from dockwatch.model.times import iso
from dockwatch.registry.manifests import Manifests
from dockwatch.scan.config import parse_configuration
from dockwatch.scan.reports import image_findings as image_findings_of
from dockwatch.scan.reports import index_findings
from dockwatch.scan.status import ecr_status
from dockwatch.storage.scan_repo import ScanState
from dockwatch.storage.unit_of_work import UnitOfWork

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
    """Inspector GetConfiguration: `ecrConfiguration.rescanDurationState` with the durations,
    `status` SUCCESS (a saved configuration applies at once) and `updatedAt`, when the
    scanning settings were last saved (absent while the defaults hold)."""

    def run() -> dict[str, Any]:
        _, ecr = services.scanner.settings()
        with services.store.read() as uow:
            updated = uow.scans.settings_updated_at(services.tenant)
        state: dict[str, Any] = {**ecr.to_wire(), "status": "SUCCESS"}
        if updated is not None:
            state["updatedAt"] = iso(updated)
        return {"ecrConfiguration": {"rescanDurationState": state}}

    return await to_thread.run_sync(run)


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


MAX_BATCH_REPOSITORIES = 25
"""ECR's `repositoryNames` bound in BatchGetRepositoryScanningConfiguration."""


async def batch_get_repository_scanning(services: Services, request: Request) -> dict[str, Any]:
    """ECR BatchGetRepositoryScanningConfiguration: `{repositoryNames}` (1-25) ->
    `scanningConfigurations` of the repositories that exist, `failures` for the others."""
    body = json_body(request)
    names = body.get("repositoryNames")
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise InvalidInput("repositoryNames must be a list of repository names")
    if not 1 <= len(names) <= MAX_BATCH_REPOSITORIES:
        raise InvalidInput(
            f"repositoryNames must hold 1 to {MAX_BATCH_REPOSITORIES} names, not {len(names)}"
        )

    def run() -> dict[str, Any]:
        config, _ = services.scanner.settings()
        with services.store.read() as uow:
            rows = {r.name: r for r in uow.registry.repository_rows(services.tenant)}
        found: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for name in dict.fromkeys(names):
            row = rows.get(name)
            if row is None:
                failures.append(
                    {
                        "repositoryName": name,
                        "failureCode": "REPOSITORY_NOT_FOUND",
                        "failureReason": f"The repository with name '{name}' does not exist "
                        f"in the registry with id '{services.tenant.account_id}'",
                    }
                )
                continue
            frequency = config.frequency_for(name, row.scan_on_push)
            found.append(
                {
                    "repositoryArn": repository_arn(services.tenant, name),
                    "repositoryName": name,
                    "scanOnPush": frequency.value != "MANUAL",
                    "scanFrequency": frequency.value,
                    "appliedScanFilters": [
                        {"filter": f.filter, "filterType": "WILDCARD"}
                        for f in config.applied_filters(name)
                    ],
                }
            )
        return {"scanningConfigurations": found, "failures": failures}

    return await to_thread.run_sync(run)


def _ecr_severity(severity: str) -> str:
    """ECR's FindingSeverityCounts keys know UNDEFINED where Inspector says UNTRIAGED."""
    return "UNDEFINED" if severity == "UNTRIAGED" else severity


def image_scan_fields(
    uow: UnitOfWork, tenant: Tenant, repository_id: int, digests: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """ECR DescribeImages' `imageScanStatus` and `imageScanFindingsSummary` for each scanned
    image of `digests` (an image never scanned has neither, as in ECR)."""
    states = uow.scans.scan_states_of(repository_id)
    scanned = [d for d in digests if d in states]
    enhanced = [d for d in scanned if states[d].scan_type == "ENHANCED"]
    counts: dict[str, dict[str, int]] = {d: {} for d in scanned}
    active = uow.findings.active_counts(tenant, repository_id, enhanced) if enhanced else {}
    for digest, by_severity in active.items():
        for severity, n in by_severity.items():
            key = _ecr_severity(severity)
            counts[digest][key] = counts[digest].get(key, 0) + n
    source_times: dict[int, datetime | None] = {}
    out: dict[str, dict[str, Any]] = {}
    for digest in scanned:
        state = states[digest]
        summary: dict[str, Any] = {}
        if state.scan_type == "BASIC":
            basic, _ = uow.scans.basic_result(repository_id, digest)
            for b in basic or []:
                counts[digest][b["severity"]] = counts[digest].get(b["severity"], 0) + 1
        elif state.db_version > 0:
            if state.db_version not in source_times:
                source_times[state.db_version] = uow.vulns.version_created_at(state.db_version)
            if source_times[state.db_version] is not None:
                summary["vulnerabilitySourceUpdatedAt"] = iso(source_times[state.db_version])
        if state.last_scanned_at is not None:
            summary["imageScanCompletedAt"] = iso(state.last_scanned_at)
        order = [*(_ecr_severity(s) for s in SEVERITY_ORDER), *sorted(counts[digest])]
        summary["findingSeverityCounts"] = {
            s: counts[digest][s] for s in dict.fromkeys(order) if s in counts[digest]
        }
        out[digest] = {
            "imageScanStatus": {"status": ecr_status(state), "description": _describe(state)},
            "imageScanFindingsSummary": summary,
        }
    return out


def _describe(state: ScanState) -> str:
    return state.unsupported_os or state.reason
