"""The `dockwatch scan --format json` document (DESIGN.md: the `scan` JSON contract).

An object with `image`, `database`, `tool`, a `summary` (findings by status and severity) and
`findings`: one entry per (vulnerability, vulnerable package), flattened so that scripts need no
nesting (`jq '.findings[] | select(.severity == "CRITICAL") | .packageName'`). Each entry keeps
the finding's `status`, `findingArn` and the match `evidence` about its package, so suppressed
findings stay visible with their reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from dockwatch.reports.common import (
    ExportContext,
    Row,
    details,
    evidence_for,
    image_details,
    image_digest,
    iso,
    related,
    rows,
    severity_counts,
    subject_name,
)

STATUSES = ("ACTIVE", "SUPPRESSED", "CLOSED")


def entry(row: Row) -> dict[str, Any]:
    """One flattened finding entry."""
    f, p = row.finding, row.package
    d = details(f)
    epss = f.get("epss")
    out: dict[str, Any] = {
        "vulnerabilityId": row.vulnerability_id,
        "relatedVulnerabilities": related(f),
        "severity": row.severity,
        "status": row.status,
        "title": f.get("title"),
        "packageName": p.get("name"),
        "packageVersion": p.get("version"),
        "packageType": row.package_type,
        "packageManager": p.get("packageManager"),
        "epoch": p.get("epoch"),
        "release": p.get("release"),
        "arch": p.get("arch"),
        "sourceName": p.get("sourceName"),
        "filePath": p.get("filePath"),
        "fixedInVersion": row.fixed_in,
        "fixAvailable": f.get("fixAvailable"),
        "remediation": p.get("remediation"),
        "layerDigest": row.layer,
        "purl": p.get("purl"),
        "inspectorScore": f.get("inspectorScore"),
        "cvss": list(d.get("cvss") or ()),
        "vendorSeverity": d.get("vendorSeverity"),
        "epssScore": epss.get("score") if isinstance(epss, Mapping) else None,
        "exploitAvailable": f.get("exploitAvailable"),
        "source": d.get("source"),
        "sourceUrl": d.get("sourceUrl"),
        "referenceUrls": list(d.get("referenceUrls") or ()),
        "description": f.get("description"),
        "findingArn": f.get("findingArn"),
        "firstObservedAt": f.get("firstObservedAt"),
        "lastObservedAt": f.get("lastObservedAt"),
        "evidence": evidence_for(f, p),
    }
    suppression = f.get("suppression")
    if isinstance(suppression, Mapping):
        out["suppression"] = dict(suppression)
    return out


def document(findings: Sequence[Mapping[str, Any]], ctx: ExportContext) -> dict[str, Any]:
    """The JSON document as a Python object (tests and the API use it directly)."""
    image = next((image_details(f) for f in findings if image_details(f)), {})
    doc: dict[str, Any] = {
        "image": {
            "reference": ctx.image_reference,
            "name": subject_name(ctx, findings),
            "digest": image_digest(ctx, findings),
            "tags": list(image.get("imageTags") or ()),
            "platform": ctx.platform,
            "os": ctx.os,
        },
        "database": None if ctx.database is None else ctx.database.to_json(),
        "tool": {"name": ctx.tool_name, "version": ctx.tool_version},
        "generatedAt": iso(ctx.generated_at),
        "summary": {s: severity_counts(findings, s) for s in STATUSES},
        "findings": [entry(r) for r in rows(findings)],
    }
    if ctx.incomplete:  # a scan cut short says so before anything else is read
        doc = {"scanIncomplete": list(ctx.incomplete), **doc}
    return doc


def render(findings: Sequence[Mapping[str, Any]], ctx: ExportContext) -> str:
    """The JSON text, indented, ending in a newline."""
    return orjson.dumps(document(findings, ctx), option=orjson.OPT_INDENT_2).decode() + "\n"
