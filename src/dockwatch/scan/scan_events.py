"""Scan outcomes as the events ECR sends for them.

A basic scan that ends, completed or failed, is reported as ECR's "ECR Image Scan": the
image's tags and the number of its basic findings per ECR severity (only severities with at
least one finding, as ECR lists them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dockwatch.model.events import BasicScanCompleted
from dockwatch.model.identity import Tenant
from dockwatch.storage.unit_of_work import UnitOfWork

ECR_SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")


def basic_severity_counts(findings: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Findings per ECR severity, in ECR's order, severities without findings left out."""
    counts: dict[str, int] = {}
    for f in findings:
        severity = str(f.get("severity") or "UNDEFINED")
        counts[severity] = counts.get(severity, 0) + 1
    ordered = [s for s in ECR_SEVERITIES if s in counts] + sorted(
        s for s in counts if s not in ECR_SEVERITIES
    )
    return {s: counts[s] for s in ordered}


def basic_scan_completed(
    uow: UnitOfWork,
    tenant: Tenant,
    repository_id: int,
    digest: str,
    status: str,
    findings: Sequence[dict[str, Any]],
    at: datetime,
) -> BasicScanCompleted:
    """The event of a basic scan that ended with `status` (COMPLETE or FAILED)."""
    return BasicScanCompleted(
        tenant,
        at,
        repository_name=uow.registry.repository_name(repository_id),
        image_digest=digest,
        scan_status=status,
        image_tags=tuple(uow.registry.tags_of(repository_id, digest)),
        finding_severity_counts=basic_severity_counts(findings),
    )
