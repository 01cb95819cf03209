"""ECR basic scanning's finding shape: OS packages only, no lifecycle, no events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockwatch.findings.build import FindingDraft


def basic_findings(drafts: Mapping[str, FindingDraft]) -> list[dict[str, Any]]:
    """ECR's `imageScanFindings.findings`: one entry per (vulnerability, package), with the
    package and its first CVSS vector as attributes."""
    findings: list[dict[str, Any]] = []
    for vuln, draft in sorted(drafts.items()):
        detail = draft.detail
        for p in detail.packages:
            attributes = [
                {"key": "package_name", "value": p.name},
                {"key": "package_version", "value": p.version},
            ]
            attributes += [
                {"key": f"CVSS{c.version[0]}_VECTOR", "value": c.scoring_vector}
                for c in detail.cvss[:1]
            ]
            findings.append(
                {
                    "name": vuln,
                    "description": detail.description,
                    "uri": detail.source_url,
                    "severity": "UNDEFINED" if draft.severity == "UNTRIAGED" else draft.severity,
                    "attributes": attributes,
                }
            )
    return findings
