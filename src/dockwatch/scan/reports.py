"""What the scanning API reports: coverage (Inspector ListCoverage) and an image's scan
findings (ECR DescribeImageScanFindings), shaped from the scan state and the findings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dockwatch.findings.build import SEVERITY_ORDER
from dockwatch.model.identity import Tenant
from dockwatch.model.times import iso
from dockwatch.storage.scan_repo import CoverageQuery
from dockwatch.storage.unit_of_work import Store
from dockwatch.value_class import frozen

from .config import RegistryScanningConfiguration
from .status import ecr_status


@frozen
class CoveragePage:
    """One page of covered resources, and the position the next page starts after."""

    resources: list[dict[str, Any]]
    next_after: tuple[str, str] | None


def coverage(
    store: Store, tenant: Tenant, config: RegistryScanningConfiguration, query: CoverageQuery
) -> CoveragePage:
    """Covered image resources in Inspector's `coveredResources` shape."""
    with store.read() as uow:
        rows = uow.scans.coverage(tenant, query)
        page = rows[: query.limit]
        tags = {
            (x.image.repository_id, x.image.digest): uow.registry.tags_of(
                x.image.repository_id, x.image.digest
            )
            for x in page
        }
    region, account = tenant.region, tenant.account_id
    out = []
    for x in page:
        image = x.image
        frequency = config.frequency_for(image.repository, image.scan_on_push)
        out.append(
            {
                "accountId": account,
                "resourceId": f"arn:aws:ecr:{region}:{account}:repository/{image.repository}/{image.digest}",
                "resourceType": "AWS_ECR_CONTAINER_IMAGE",
                "scanType": "PACKAGE",
                "scanStatus": {"statusCode": x.status_code, "reason": x.reason},
                "lastScannedAt": iso(x.last_scanned_at),
                "resourceMetadata": {
                    "ecrImage": {
                        "tags": tags[(image.repository_id, image.digest)],
                        "pushedAt": iso(x.image_pushed_at),
                        "imagePulledAt": iso(x.last_pulled_at),
                    },
                    "ecrRepository": {"name": image.repository, "scanFrequency": frequency.value},
                },
            }
        )
    last = page[-1].image if len(rows) > query.limit else None
    return CoveragePage(out, None if last is None else (last.repository, last.digest))


def _counts(severities: Sequence[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in severities:
        counts[s] = counts.get(s, 0) + 1
    return {s: counts[s] for s in SEVERITY_ORDER if s in counts}


def index_findings(
    store: Store, tenant: Tenant, name: str, repo_id: int, digest: str
) -> dict[str, Any]:
    """An index's platform images reported together (Inspector scans no lists; dockwatch scans
    each platform image on its own and shows them side by side here)."""
    with store.read() as uow:
        stored = uow.registry.manifest_content(digest)
        children = json.loads(stored.content).get("manifests", []) if stored else []
        platforms = []
        severities: list[str] = []
        for child in children:
            child_digest = child.get("digest")
            state = uow.scans.get_scan(repo_id, child_digest)
            found = [
                f for f in uow.findings.findings_of(repo_id, child_digest) if f.status == "ACTIVE"
            ]
            severities += [f.severity for f in found]
            platform = child.get("platform") or {}
            parts = (platform.get("os"), platform.get("architecture"), platform.get("variant"))
            platforms.append(
                {
                    "platform": "/".join(p for p in parts if p),
                    "imageDigest": child_digest,
                    "imageScanStatus": None
                    if state is None
                    else {"statusCode": state.status_code, "reason": state.reason},
                    "findingIds": [f.id for f in found],
                }
            )
    return {
        "registryId": tenant.account_id,
        "repositoryName": name,
        "imageId": {"imageDigest": digest},
        "imageScanStatus": {
            "status": "ACTIVE" if any(p["imageScanStatus"] for p in platforms) else "PENDING",
            "description": "image index: see platforms",
        },
        "imageScanFindings": {"findingSeverityCounts": _counts(severities)},
        "platforms": platforms,
    }


def image_findings(
    store: Store, tenant: Tenant, name: str, repo_id: int, digest: str
) -> dict[str, Any]:
    """ECR DescribeImageScanFindings for one image resource (basic or enhanced)."""
    with store.read() as uow:
        state = uow.scans.get_scan(repo_id, digest)
        basic, _ = uow.scans.basic_result(repo_id, digest)
        found = [f for f in uow.findings.findings_of(repo_id, digest) if f.status != "CLOSED"]
        tags = uow.registry.tags_of(repo_id, digest)
    image_id = {"imageDigest": digest, "imageTag": tags[0] if tags else None}
    if state is not None and state.scan_type == "BASIC":
        return {
            "registryId": tenant.account_id,
            "repositoryName": name,
            "imageId": image_id,
            "imageScanStatus": {
                "status": ecr_status(state),
                "description": state.unsupported_os or state.reason,
            },
            "imageScanFindings": {
                "imageScanCompletedAt": iso(state.last_scanned_at),
                "findingSeverityCounts": _basic_counts(basic or []),
                "findings": basic or [],
            },
        }
    status = {
        "status": ecr_status(state),
        "description": "not scanned yet"
        if state is None
        else (state.unsupported_os or state.reason),
    }
    order = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    found.sort(key=lambda f: (order.get(f.severity, 9), f.vulnerability_id))
    return {
        "registryId": tenant.account_id,
        "repositoryName": name,
        "imageId": image_id,
        "imageScanStatus": status,
        "imageScanFindings": {
            "imageScanCompletedAt": iso(state.last_scanned_at) if state else None,
            "findingSeverityCounts": _counts([f.severity for f in found if f.status == "ACTIVE"]),
            "enhancedFindings": [
                {
                    "findingArn": f"arn:aws:inspector2:{tenant.region}:{tenant.account_id}:finding/{f.id}",
                    "awsAccountId": tenant.account_id,
                    "status": f.status,
                    "severity": f.severity,
                    "fixAvailable": f.fix_available,
                    "firstObservedAt": iso(f.first_observed_at),
                    "lastObservedAt": iso(f.last_observed_at),
                    "updatedAt": iso(f.updated_at),
                    **{k: v for k, v in f.detail.items() if k != "evidence"},
                    "score": f.detail.get("inspectorScore"),
                    "evidence": f.detail.get("evidence"),
                }
                for f in found
            ],
        },
    }


def _basic_counts(findings: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Basic findings counted per severity as stored (UNDEFINED included), in first-seen order."""
    counts: dict[str, int] = {}
    for b in findings:
        counts[b["severity"]] = counts.get(b["severity"], 0) + 1
    return counts
