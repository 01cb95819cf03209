"""AWS Security Finding Format: `{"Findings": [...]}`, the body `BatchImportFindings` takes.

One ASFF finding per finding, laid out as Amazon Inspector sends its own package
vulnerabilities to Security Hub: `Vulnerabilities[0]` carries the packages, CVSS scores, EPSS
and fix availability, `Resources[0]` the ECR image. The product is the account's default
custom product (`product/ACCOUNT/default`), the only one a self-hosted tool may import as.
Status maps to `Workflow.Status` (SUPPRESSED stays SUPPRESSED, CLOSED is RESOLVED) and
`RecordState` (CLOSED is ARCHIVED). ASFF has no JSON Schema; the tests check every record
against the `AwsSecurityFinding` shape of botocore's Security Hub model. Limits the model does
not state but the ASFF documentation does (Title 256, Description 1024, Note and
Recommendation text 512 characters, 50 ProductFields) are applied here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from dockwatch.reports.common import (
    ExportContext,
    details,
    image_details,
    iso,
    ordered_findings,
    packages,
    parse_time,
    related,
    vulnerability_id,
)

SCHEMA_VERSION = "2018-10-08"
TYPE_CVE = "Software and Configuration Checks/Vulnerabilities/CVE"
TYPE_OTHER = "Software and Configuration Checks/Vulnerabilities"
LABELS = {"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL"}
WORKFLOW = {"ACTIVE": "NEW", "SUPPRESSED": "SUPPRESSED", "CLOSED": "RESOLVED"}


def _cut(text: object, limit: int) -> str | None:
    s = "" if text is None else str(text).strip()
    if not s:
        return None
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _clean(value: Any) -> Any:
    """Drop None, empty strings and empty containers (ASFF strings must not be empty)."""
    if isinstance(value, Mapping):
        out = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        items = [_clean(v) for v in value]
        return [v for v in items if v not in (None, "", [], {})]
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _arn_parts(finding: Mapping[str, Any]) -> tuple[str, str, str]:
    """(partition, region, account) from the finding ARN, else the finding's own fields."""
    parts = str(finding.get("findingArn") or "").split(":")
    resource = (finding.get("resources") or [{}])[0]
    partition = parts[1] if len(parts) > 5 and parts[1] else "aws"
    region = parts[3] if len(parts) > 5 and parts[3] else str(resource.get("region") or "")
    account = parts[4] if len(parts) > 5 and parts[4] else str(finding.get("awsAccountId") or "")
    return partition, region or "us-east-1", account or "000000000000"


def _time(value: object, fallback: str) -> str:
    parsed = parse_time(value)
    return iso(parsed) if parsed is not None else fallback


def _package(p: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "Name": p.get("name"),
        "Version": p.get("version"),
        "Epoch": None if p.get("epoch") is None else str(p.get("epoch")),
        "Release": p.get("release"),
        "Architecture": p.get("arch"),
        "PackageManager": p.get("packageManager"),
        "FilePath": p.get("filePath"),
        "FixedInVersion": p.get("fixedInVersion"),
        "Remediation": p.get("remediation"),
        "SourceLayerHash": p.get("sourceLayerHash"),
    }


def record(finding: Mapping[str, Any], ctx: ExportContext) -> dict[str, Any]:
    """One ASFF finding."""
    partition, region, account = _arn_parts(finding)
    d = details(finding)
    vuln = vulnerability_id(finding)
    severity = str(finding.get("severity") or "UNTRIAGED").upper()
    label = severity if severity in LABELS else "INFORMATIONAL"
    status = str(finding.get("status") or "ACTIVE")
    now = iso(ctx.generated_at)
    first = _time(finding.get("firstObservedAt"), now)
    updated = _time(finding.get("updatedAt"), now)
    kind = TYPE_CVE if vuln.startswith("CVE-") else TYPE_OTHER
    image = image_details(finding)
    resource = (finding.get("resources") or [{}])[0]
    epss = finding.get("epss")
    recommendation = ((finding.get("remediation") or {}).get("recommendation") or {}).get("text")
    product_fields = {
        "dockwatch/status": status,
        "dockwatch/findingArn": finding.get("findingArn"),
        "dockwatch/inspectorScore": None
        if finding.get("inspectorScore") is None
        else str(finding["inspectorScore"]),
        "dockwatch/imageReference": ctx.image_reference,
        "dockwatch/database/version": None if ctx.database is None else str(ctx.database.version),
        "dockwatch/database/ageDays": None
        if ctx.database is None or ctx.database.age_days is None
        else str(ctx.database.age_days),
        "dockwatch/version": ctx.tool_version,
        "dockwatch/scanIncomplete": "; ".join(ctx.incomplete) or None,
    }
    out: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": str(finding.get("findingArn") or vuln),
        "ProductArn": f"arn:{partition}:securityhub:{region}:{account}:product/{account}/default",
        "ProductName": ctx.tool_name,
        "CompanyName": ctx.tool_name,
        "GeneratorId": ctx.tool_name,
        "AwsAccountId": account,
        "Region": region,
        "Types": [kind],
        "FirstObservedAt": first,
        "LastObservedAt": _time(finding.get("lastObservedAt"), now),
        "CreatedAt": first,
        "UpdatedAt": updated,
        "Severity": {"Label": label, "Original": severity},
        "FindingProviderFields": {
            "Severity": {"Label": label, "Original": severity},
            "Types": [kind],
        },
        "Title": _cut(finding.get("title") or vuln, 256),
        "Description": _cut(finding.get("description") or finding.get("title") or vuln, 1024),
        "Remediation": {
            "Recommendation": {"Text": _cut(recommendation, 512), "Url": d.get("sourceUrl")}
        },
        "SourceUrl": d.get("sourceUrl"),
        "ProductFields": dict(list(product_fields.items())[:50]),
        "Resources": [
            {
                "Type": "AwsEcrContainerImage",
                "Id": str(resource.get("id") or image.get("imageHash") or ctx.image_digest),
                "Partition": partition,
                "Region": region,
                "Details": {
                    "AwsEcrContainerImage": {
                        "RegistryId": image.get("registry"),
                        "RepositoryName": image.get("repositoryName"),
                        "Architecture": image.get("architecture"),
                        "ImageDigest": image.get("imageHash") or ctx.image_digest,
                        "ImageTags": [str(t) for t in image.get("imageTags") or ()],
                        "ImagePublishedAt": None
                        if parse_time(image.get("pushedAt")) is None
                        else _time(image.get("pushedAt"), now),
                    }
                },
            }
        ],
        "Workflow": {"Status": WORKFLOW.get(status, "NEW")},
        "RecordState": "ARCHIVED" if status == "CLOSED" else "ACTIVE",
        "Vulnerabilities": [
            {
                "Id": vuln,
                "VulnerablePackages": [_package(p) for p in packages(finding)],
                "Cvss": [
                    {
                        "Version": c.get("version"),
                        "BaseScore": float(c["baseScore"])
                        if isinstance(c.get("baseScore"), int | float)
                        else None,
                        "BaseVector": c.get("scoringVector"),
                        "Source": c.get("source"),
                    }
                    for c in d.get("cvss") or ()
                    if isinstance(c, Mapping)
                ],
                "RelatedVulnerabilities": related(finding),
                "Vendor": {
                    "Name": d.get("source") or ctx.tool_name,
                    "Url": d.get("sourceUrl"),
                    "VendorSeverity": d.get("vendorSeverity"),
                },
                "ReferenceUrls": [str(u) for u in d.get("referenceUrls") or ()],
                "FixAvailable": finding.get("fixAvailable"),
                "EpssScore": float(epss["score"])
                if isinstance(epss, Mapping) and isinstance(epss.get("score"), int | float)
                else None,
                "ExploitAvailable": finding.get("exploitAvailable"),
            }
        ],
    }
    suppression = finding.get("suppression")
    if status == "SUPPRESSED" and isinstance(suppression, Mapping):
        out["Note"] = {
            "Text": _cut(f"Suppressed: {suppression.get('reason') or 'no reason given'}", 512),
            "UpdatedBy": _cut(suppression.get("ruleArn") or suppression.get("origin"), 512)
            or ctx.tool_name,
            "UpdatedAt": updated,
        }
    cleaned: dict[str, Any] = _clean(out)
    return cleaned


def document(findings: Sequence[Mapping[str, Any]], ctx: ExportContext) -> dict[str, Any]:
    """`{"Findings": [...]}` as a Python object."""
    return {"Findings": [record(f, ctx) for f in ordered_findings(findings)]}


def render(findings: Sequence[Mapping[str, Any]], ctx: ExportContext) -> str:
    """The ASFF JSON text, indented, ending in a newline."""
    return orjson.dumps(document(findings, ctx), option=orjson.OPT_INDENT_2).decode() + "\n"
