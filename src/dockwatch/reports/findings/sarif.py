"""SARIF 2.1.0: one rule per vulnerability, one result per (vulnerability, package).

Only ACTIVE findings are results: SARIF consumers (code scanning dashboards) show every result
as a problem to fix, so suppressed and closed findings are left out rather than listed with a
`suppressions` entry most viewers ignore. The level follows the severity (CRITICAL and HIGH are
`error`, MEDIUM `warning`, the rest `note`); `security-severity` (the CVSS score, else a score
in the severity's band) is the property GitHub code scanning ranks by. A result's location is
the file that declared the package inside the image (its URI relative to the image root), with
the package's purl as a logical location; `partialFingerprints` keep a result's identity stable
across runs so a viewer can follow it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from dockwatch.reports.common import (
    ExportContext,
    Row,
    details,
    image_digest,
    iso,
    related,
    rows,
    short_hash,
    subject_name,
)

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
LEVELS = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning"}
#: security-severity for a finding without a CVSS score: a value inside the severity's band
BAND_SCORES = {"CRITICAL": 9.5, "HIGH": 8.0, "MEDIUM": 5.5, "LOW": 2.0}


def level(severity: str) -> str:
    """SARIF `level` for an Inspector severity."""
    return LEVELS.get(severity.upper(), "note")


def security_severity(finding: Mapping[str, Any]) -> str | None:
    """GitHub's `security-severity`: a score from 0.0 to 10.0 as a string."""
    score = finding.get("inspectorScore")
    if isinstance(score, int | float) and not isinstance(score, bool):
        return f"{float(score):.1f}"
    band = BAND_SCORES.get(str(finding.get("severity") or "").upper())
    return None if band is None else f"{band:.1f}"


def _uri(path: object) -> str | None:
    if not path:
        return None
    return quote(str(path).lstrip("/"), safe="/:@!$&'()*+,;=-._~") or None


def _rule(finding: Mapping[str, Any]) -> dict[str, Any]:
    d = details(finding)
    vuln = str(d.get("vulnerabilityId") or finding.get("title") or "UNKNOWN")
    severity = str(finding.get("severity") or "UNTRIAGED")
    description = str(finding.get("description") or vuln)
    refs = [str(u) for u in d.get("referenceUrls") or ()]
    help_lines = [description, "", f"Severity: {severity}"]
    if related(finding):
        help_lines.append("Also known as: " + ", ".join(related(finding)))
    help_lines += [f"- {u}" for u in refs[:10]]
    properties: dict[str, Any] = {
        "tags": ["security", "vulnerability", severity.lower()],
        "severity": severity,
    }
    sec = security_severity(finding)
    if sec is not None:
        properties["security-severity"] = sec
    if related(finding):
        properties["relatedVulnerabilities"] = related(finding)
    rule: dict[str, Any] = {
        "id": vuln,
        "shortDescription": {"text": str(finding.get("title") or vuln)},
        "fullDescription": {"text": description},
        "help": {"text": "\n".join(help_lines)},
        "defaultConfiguration": {"level": level(severity)},
        "properties": properties,
    }
    if d.get("sourceUrl"):
        rule["helpUri"] = str(d["sourceUrl"])
    return rule


def _message(row: Row) -> str:
    p = row.package
    what = f"{p.get('name')} {p.get('version')} ({row.package_type})"
    fix = f"fixed in {row.fixed_in}" if row.fixed_in else "no fixed version is known"
    layer = f" installed by layer {row.layer}" if row.layer else ""
    return f"{what}{layer} is affected by {row.vulnerability_id} ({row.severity}); {fix}."


def _result(row: Row, rule_index: int, image: str) -> dict[str, Any]:
    p = row.package
    purl = str(p.get("purl") or "")
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(p.get("filePath")) or quote(image, safe="/:@")}
        }
    }
    if purl:
        location["logicalLocations"] = [
            {"name": str(p.get("name") or purl), "fullyQualifiedName": purl, "kind": "package"}
        ]
    properties: dict[str, Any] = {
        "severity": row.severity,
        "packageName": p.get("name"),
        "packageVersion": p.get("version"),
        "packageType": row.package_type,
        "fixedInVersion": row.fixed_in,
        "layerDigest": row.layer,
        "purl": purl or None,
        "findingArn": row.finding.get("findingArn"),
    }
    return {
        "ruleId": row.vulnerability_id,
        "ruleIndex": rule_index,
        "level": level(row.severity),
        "message": {"text": _message(row)},
        "locations": [location],
        "partialFingerprints": {
            "dockwatchPackageVulnerability/v1": short_hash(
                row.vulnerability_id, purl or p.get("name"), p.get("version"), row.layer, size=32
            )
        },
        "properties": {k: v for k, v in properties.items() if v is not None},
    }


def document(findings: Sequence[Mapping[str, Any]], ctx: ExportContext) -> dict[str, Any]:
    """The SARIF log as a Python object."""
    active = rows(findings, statuses=("ACTIVE",))
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for row in active:
        if row.vulnerability_id not in index:
            index[row.vulnerability_id] = len(rules)
            rules.append(_rule(row.finding))
    image = subject_name(ctx, findings)
    run_properties: dict[str, Any] = {
        "image": {
            "reference": ctx.image_reference,
            "name": image,
            "digest": image_digest(ctx, findings),
        }
    }
    if ctx.database is not None:
        run_properties["database"] = ctx.database.to_json()
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": ctx.tool_name,
                        "version": ctx.tool_version,
                        "rules": rules,
                    }
                },
                "invocations": [_invocation(ctx)],
                "results": [_result(r, index[r.vulnerability_id], image) for r in active],
                "properties": run_properties,
            }
        ],
    }


def render(findings: Sequence[Mapping[str, Any]], ctx: ExportContext) -> str:
    """The SARIF text, indented, ending in a newline."""
    return orjson.dumps(document(findings, ctx), option=orjson.OPT_INDENT_2).decode() + "\n"


def _invocation(ctx: ExportContext) -> dict[str, Any]:
    """A scan cut short is not a successful execution; each cut is an error notification."""
    invocation: dict[str, Any] = {
        "executionSuccessful": not ctx.incomplete,
        "endTimeUtc": iso(ctx.generated_at),
    }
    if ctx.incomplete:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": f"scan incomplete: {text}"}}
            for text in ctx.incomplete
        ]
    return invocation
