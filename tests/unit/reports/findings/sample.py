"""Inspector-shaped findings for export tests, built with `inspector_finding` from plain dicts.

They cover what exports must survive: several packages per finding, a package without a fix,
every status, a suppression with its reason, text a spreadsheet or a terminal would act on
(`=cmd`, escape sequences, rich markup), commas, quotes and newlines, and non-ASCII names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dockwatch.findings.shape import ImageContext, inspector_finding
from dockwatch.model.identity import Tenant
from dockwatch.reports.common import DatabaseInfo, ExportContext

TENANT = Tenant("123456789012", "eu-west-1")
DIGEST = "sha256:" + "ab" * 32
LAYER_A = "sha256:" + "01" * 32
LAYER_B = "sha256:" + "02" * 32
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
IMAGE = ImageContext(
    repository="team/app", digest=DIGEST, tags=("v1",), pushed_at=NOW, architecture="amd64"
)


def package(
    name: str,
    version: str,
    fixed: str | None,
    *,
    purl_type: str = "pypi",
    manager: str = "PYTHONPKG",
    layer: str = LAYER_A,
    path: str | None = None,
    source_name: str | None = None,
) -> dict[str, Any]:
    """One `vulnerablePackages` entry as `findings.build` writes it."""
    return {
        "name": name,
        "version": version,
        "epoch": 0 if purl_type == "deb" else None,
        "release": None,
        "arch": "amd64" if purl_type == "deb" else None,
        "packageManager": manager,
        "filePath": path or f"/usr/lib/python3/site-packages/{name}-{version}.dist-info/METADATA",
        "sourceLayerHash": layer,
        "fixedInVersion": fixed or "NotAvailable",
        "remediation": f"Upgrade {name} to {fixed}" if fixed else "No fixed version is known",
        "purl": f"pkg:{purl_type}/{'debian/' if purl_type == 'deb' else ''}{name}@{version}",
        "sourceName": source_name,
    }


def finding(
    vuln: str,
    severity: str,
    pkgs: Sequence[dict[str, Any]],
    *,
    status: str = "ACTIVE",
    related: Sequence[str] = (),
    score: float | None = None,
    description: str = "A flaw.",
    suppression: dict[str, Any] | None = None,
    epss: float | None = None,
) -> dict[str, Any]:
    """A finding dict exactly as the API and `dockwatch scan` produce them."""
    fixed = [p for p in pkgs if p["fixedInVersion"] != "NotAvailable"]
    fix = "YES" if len(fixed) == len(pkgs) else "PARTIAL" if fixed else "NO"
    cvss = (
        [
            {
                "baseScore": score,
                "scoringVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "source": "osv",
                "version": "3.1",
            }
        ]
        if score is not None
        else []
    )
    detail = {
        "title": f"{vuln} - " + ", ".join(sorted(p["name"] for p in pkgs)),
        "description": description,
        "inspectorScore": score,
        "exploitAvailable": "NO",
        "epss": None if epss is None else {"score": epss},
        "packageVulnerabilityDetails": {
            "vulnerabilityId": vuln,
            "source": "osv:PyPI",
            "sourceUrl": f"https://osv.dev/vulnerability/{vuln}",
            "vendorSeverity": None,
            "cvss": cvss,
            "referenceUrls": [f"https://osv.dev/vulnerability/{vuln}"],
            "relatedVulnerabilities": list(related),
            "vulnerablePackages": list(pkgs),
        },
        "remediation": {"recommendation": {"text": "; ".join(p["remediation"] for p in pkgs)}},
        "evidence": [
            {"advisory": f"osv:PyPI/{vuln}", "package": f"python/{p['name']}@{p['version']}"}
            for p in pkgs
        ],
    }
    out = inspector_finding(
        TENANT,
        IMAGE,
        finding_id=hashlib.sha256(f"{vuln}/{status}".encode()).hexdigest()[:32],
        status=status,
        severity=severity,
        fix_available=fix,
        first_observed_at=NOW,
        last_observed_at=NOW,
        updated_at=NOW,
        detail=detail,
    )
    if suppression is not None:
        out["suppression"] = suppression
    return out


def findings() -> list[dict[str, Any]]:
    """A mixed set: every status, several packages per finding, hostile text."""
    return [
        finding(
            "CVE-2024-0001",
            "CRITICAL",
            [package("requests", "2.19.0", "2.20.0"), package("urllib3", "1.24.1", None)],
            related=["GHSA-xxxx-yyyy-zzzz", "PYSEC-2024-1"],
            score=9.8,
            epss=0.42,
        ),
        finding(
            "CVE-2024-0002",
            "MEDIUM",
            [
                package(
                    "libssl3",
                    "3.0.11-1~deb12u1",
                    "3.0.13-1~deb12u1",
                    purl_type="deb",
                    manager="OS",
                    layer=LAYER_B,
                    path="/var/lib/dpkg/status",
                    source_name="openssl",
                )
            ],
            description="Line one, \"quoted\"\nline two; =cmd|' /C calc'!A0",
        ),
        finding(
            "GHSA-9999-8888-7777",
            "LOW",
            [package('=HYPERLINK("x")', "1.0", "1.1"), package("café[bold]", "0.1", None)],
        ),
        finding(
            "CVE-2024-0003",
            "HIGH",
            [package("pyyaml", "5.3", "5.4")],
            status="SUPPRESSED",
            score=7.5,
            suppression={
                "reason": "not reachable: we never load untrusted YAML",
                "origin": "ignore list entry 1",
                "state": "not_affected",
                "justification": "code_not_reachable",
            },
        ),
        finding("CVE-2023-0004", "HIGH", [package("jinja2", "2.10", "2.11")], status="CLOSED"),
        finding(
            "PYSEC-2024-5",
            "UNTRIAGED",
            [
                package(
                    "evil\x1b[31mred", "1.0\x07", None, path="/opt/app x/evil.dist-info/METADATA"
                )
            ],
        ),
    ]


def context(**extra: Any) -> ExportContext:
    """The context `dockwatch scan` would pass for the sample image."""
    return ExportContext(
        image_reference="docker://registry.example:5000/team/app:v1",
        image_digest=DIGEST,
        image_name="team/app",
        platform="linux/amd64",
        os="debian 12",
        database=DatabaseInfo(42, datetime(2026, 2, 20, tzinfo=UTC), 9),
        generated_at=NOW,
        tool_version="0.1.0",
        **extra,
    )


def expected_pairs(
    items: Sequence[dict[str, Any]], statuses: Sequence[str] | None = None
) -> list[tuple[str, str, str, str | None, str, str]]:
    """(vulnerability, package, version, fixed or None, severity, status) for each pair,
    read straight from the input dicts (the oracle every format is checked against)."""
    out = []
    for f in items:
        if statuses is not None and f["status"] not in statuses:
            continue
        d = f["packageVulnerabilityDetails"]
        for p in d["vulnerablePackages"]:
            fixed = None if p["fixedInVersion"] == "NotAvailable" else p["fixedInVersion"]
            out.append(
                (d["vulnerabilityId"], p["name"], p["version"], fixed, f["severity"], f["status"])
            )
    return sorted(out, key=str)
