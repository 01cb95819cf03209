"""A stored finding in the shape of Inspector's `Finding` (ListFindings, EventBridge, exports).

One function builds it so that the API, the events and every export say the same thing. The
match evidence is dockwatch's own addition; `include_evidence=False` leaves it out where a
consumer validates against Inspector's model strictly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dockwatch.model.finding import FindingDetail, detail_json
from dockwatch.model.identity import Tenant, finding_arn, image_arn
from dockwatch.model.times import iso
from dockwatch.value_class import frozen

__all__ = ["ImageContext", "detail_json", "inspector_finding"]


@frozen
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
    detail: FindingDetail | Mapping[str, Any],
    include_evidence: bool = True,
) -> dict[str, Any]:
    """The Inspector `Finding` object (plus `evidence` unless asked not to).

    `detail` is a fresh draft's typed detail or a stored detail document as read back."""
    if isinstance(detail, FindingDetail):
        detail = detail_json(detail)
    out: dict[str, Any] = {
        "findingArn": finding_arn(tenant, finding_id),
        "awsAccountId": tenant.account_id,
        "type": "PACKAGE_VULNERABILITY",
        "title": detail.get("title"),
        "description": detail.get("description") or "",
        "remediation": detail.get("remediation") or {"recommendation": {}},
        "severity": severity,
        "status": status,
        "firstObservedAt": iso(first_observed_at),
        "lastObservedAt": iso(last_observed_at),
        "updatedAt": iso(updated_at),
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
                        "pushedAt": iso(image.pushed_at),
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
