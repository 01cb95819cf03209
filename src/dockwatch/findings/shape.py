"""A stored finding in the shape of Inspector's `Finding` (ListFindings, EventBridge, exports).

One function builds it so that the API, the events and every export say the same thing. The
match evidence is dockwatch's own addition; `include_evidence=False` leaves it out where a
consumer validates against Inspector's model strictly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dockwatch.model.identity import Tenant


@dataclass(frozen=True, slots=True)
class ImageContext:
    """What a finding says about the image it was found in."""

    repository: str
    digest: str
    tags: Sequence[str] = ()
    pushed_at: datetime | None = None
    registry: str | None = None
    """The registry id (the account) by default."""
    architecture: str | None = None
    platform: str | None = None


def finding_arn(tenant: Tenant, finding_id: str) -> str:
    """Inspector's finding ARN for a dockwatch finding id."""
    return f"arn:aws:inspector2:{tenant.region}:{tenant.account_id}:finding/{finding_id}"


def image_arn(tenant: Tenant, repository: str, digest: str) -> str:
    """The resource id Inspector gives an ECR image."""
    return f"arn:aws:ecr:{tenant.region}:{tenant.account_id}:repository/{repository}/{digest}"


def repository_arn(tenant: Tenant, repository: str) -> str:
    """ECR's repository ARN."""
    return f"arn:aws:ecr:{tenant.region}:{tenant.account_id}:repository/{repository}"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def inspector_finding(
    tenant: Tenant,
    image: ImageContext,
    *,
    finding_id: str,
    status: str,
    severity: str,
    fix_available: str,
    first_observed_at: datetime,
    last_observed_at: datetime,
    updated_at: datetime,
    detail: Mapping[str, Any],
    include_evidence: bool = True,
) -> dict[str, Any]:
    """The Inspector `Finding` object (plus `evidence` unless asked not to)."""
    out: dict[str, Any] = {
        "findingArn": finding_arn(tenant, finding_id),
        "awsAccountId": tenant.account_id,
        "type": "PACKAGE_VULNERABILITY",
        "title": detail.get("title"),
        "description": detail.get("description") or "",
        "remediation": detail.get("remediation") or {"recommendation": {}},
        "severity": severity,
        "status": status,
        "firstObservedAt": _iso(first_observed_at),
        "lastObservedAt": _iso(last_observed_at),
        "updatedAt": _iso(updated_at),
        "fixAvailable": fix_available,
        "exploitAvailable": detail.get("exploitAvailable") or "NO",
        "inspectorScore": detail.get("inspectorScore"),
        "inspectorScoreDetails": detail.get("inspectorScoreDetails"),
        "epss": detail.get("epss"),
        "packageVulnerabilityDetails": detail.get("packageVulnerabilityDetails"),
        "resources": [
            {
                "type": "AWS_ECR_CONTAINER_IMAGE",
                "id": image_arn(tenant, image.repository, image.digest),
                "partition": "aws",
                "region": tenant.region,
                "details": {
                    "awsEcrContainerImage": {
                        "repositoryName": image.repository,
                        "imageHash": image.digest,
                        "imageTags": list(image.tags),
                        "pushedAt": _iso(image.pushed_at),
                        "registry": image.registry or tenant.account_id,
                        "architecture": image.architecture,
                        "platform": image.platform,
                    }
                },
            }
        ],
    }
    if detail.get("exploitabilityDetails"):
        out["exploitabilityDetails"] = detail["exploitabilityDetails"]
    if include_evidence:
        out["evidence"] = detail.get("evidence") or []
    return {k: v for k, v in out.items() if v is not None}
