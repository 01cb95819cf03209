"""An image's scan findings in ECR's DescribeImageScanFindings shapes: basic `findings`, or
`enhancedFindings` rendered from the one finding store (ECR's names: `score`,
`scoreDetails.cvss`, `remediation.recommendation.url`, where Inspector's differ)."""

from __future__ import annotations

from typing import Any

from dockwatch.findings.build import SEVERITY_ORDER
from dockwatch.model.identity import Tenant, finding_arn, image_arn
from dockwatch.scan.status import ecr_status
from dockwatch.storage.finding_repo import FindingRow
from dockwatch.storage.unit_of_work import UnitOfWork

from .common import severity_counts_order

ECR_SEVERITIES = [("UNDEFINED" if s == "UNTRIAGED" else s) for s in SEVERITY_ORDER]
_PACKAGE_KEYS = (
    "arch", "epoch", "filePath", "name", "packageManager", "release", "sourceLayerHash",
    "version", "fixedInVersion",
)  # fmt: skip
_CVSS_KEYS = ("baseScore", "scoringVector", "source", "version")
CONTINUOUS = "Continuous scan is selected for image."
"""The description ECR gives an image under continuous enhanced scanning."""


def _severity(value: str) -> str:
    return "UNDEFINED" if value == "UNTRIAGED" else value


def _count(severities: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in severities:
        counts[s] = counts.get(s, 0) + 1
    return severity_counts_order(counts, ECR_SEVERITIES)


def _details(detail: dict[str, Any]) -> dict[str, Any]:
    pvd = detail.get("packageVulnerabilityDetails") or {}
    out = {
        k: pvd[k]
        for k in ("referenceUrls", "relatedVulnerabilities", "source", "sourceUrl",
                  "vendorSeverity", "vulnerabilityId")
        if pvd.get(k) is not None
    }  # fmt: skip
    out["cvss"] = [
        {k: c[k] for k in _CVSS_KEYS if c.get(k) is not None} for c in pvd.get("cvss") or []
    ]
    out["vulnerablePackages"] = [
        {k: p[k] for k in _PACKAGE_KEYS if p.get(k) is not None}
        for p in pvd.get("vulnerablePackages") or []
    ]
    return out


def enhanced_finding(
    tenant: Tenant, name: str, f: FindingRow, tags: list[str], pushed_at: Any
) -> dict[str, Any]:
    """One `EnhancedImageScanFinding`."""
    detail = f.detail
    out: dict[str, Any] = {
        "awsAccountId": tenant.account_id,
        "description": detail.get("description"),
        "findingArn": finding_arn(tenant, f.id),
        "firstObservedAt": f.first_observed_at,
        "lastObservedAt": f.last_observed_at,
        "updatedAt": f.updated_at,
        "packageVulnerabilityDetails": _details(detail),
        "remediation": {
            "recommendation": {
                k: v
                for k, v in ((detail.get("remediation") or {}).get("recommendation") or {}).items()
                if k == "text" and v
            }
        },
        "resources": [
            {
                "id": image_arn(tenant, name, f.digest),
                "type": "AWS_ECR_CONTAINER_IMAGE",
                "details": {
                    "awsEcrContainerImage": {
                        "imageHash": f.digest,
                        "imageTags": tags,
                        "pushedAt": pushed_at,
                        "registry": tenant.account_id,
                        "repositoryName": name,
                    }
                },
            }
        ],
        "severity": f.severity,
        "status": f.status,
        "title": detail.get("title"),
        "type": detail.get("type"),
        "fixAvailable": f.fix_available,
        "exploitAvailable": detail.get("exploitAvailable"),
    }
    score = detail.get("inspectorScore")
    if score is not None:
        out["score"] = score
    adjusted = (detail.get("inspectorScoreDetails") or {}).get("adjustedCvss")
    if adjusted:
        out["scoreDetails"] = {
            "cvss": {
                "adjustments": adjusted.get("adjustments") or [],
                "score": adjusted.get("score"),
                "scoreSource": adjusted.get("scoreSource"),
                "scoringVector": adjusted.get("scoringVector"),
                "version": adjusted.get("version"),
            }
        }
    return out


def scan_findings(
    uow: UnitOfWork, tenant: Tenant, name: str, repo_id: int, digest: str
) -> tuple[dict[str, Any], dict[str, Any], str] | None:
    """(imageScanStatus, imageScanFindings, the key of its finding list), or None when the
    image has no scan."""
    state = uow.scans.get_scan(repo_id, digest)
    if state is None:
        return None
    status = {"status": ecr_status(state), "description": state.unsupported_os or state.reason}
    findings_doc: dict[str, Any] = {}
    if state.last_scanned_at is not None:
        findings_doc["imageScanCompletedAt"] = state.last_scanned_at
    if state.scan_type == "BASIC":
        basic, _ = uow.scans.basic_result(repo_id, digest)
        basic = basic or []
        findings_doc["findingSeverityCounts"] = _count([b["severity"] for b in basic])
        findings_doc["findings"] = basic
        return status, findings_doc, "findings"
    if status["status"] == "ACTIVE":
        status["description"] = CONTINUOUS
    if state.db_version > 0:
        source = uow.vulns.version_created_at(state.db_version)
        if source is not None:
            findings_doc["vulnerabilitySourceUpdatedAt"] = source
    found = [f for f in uow.findings.findings_of(repo_id, digest) if f.status != "CLOSED"]
    order = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    found.sort(key=lambda f: (order.get(f.severity, 9), f.vulnerability_id))
    tags = uow.registry.tags_of(repo_id, digest)
    row = uow.registry.get_manifest(repo_id, digest)
    pushed_at = None if row is None else row.image_pushed_at
    findings_doc["findingSeverityCounts"] = _count(
        [_severity(f.severity) for f in found if f.status == "ACTIVE"]
    )
    findings_doc["enhancedFindings"] = [
        enhanced_finding(tenant, name, f, tags, pushed_at) for f in found
    ]
    return status, findings_doc, "enhancedFindings"
