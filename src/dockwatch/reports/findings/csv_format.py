"""CSV: one row per (finding, vulnerable package), a header row, a fixed column order.

RFC 4180 through the csv module (CRLF line ends, quoting as needed). Lists are joined with
`;`. A cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or CR first) gets
a leading `'`, as OWASP advises against CSV injection: advisory text comes from outside.
The database version and age are columns too, because a CSV file has nowhere else to say them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from dockwatch.reports.common import ExportContext, Row, details, image_details, related, rows

COLUMNS = (
    "vulnerabilityId",
    "severity",
    "status",
    "packageName",
    "packageVersion",
    "packageType",
    "fixedInVersion",
    "fixAvailable",
    "layerDigest",
    "purl",
    "filePath",
    "inspectorScore",
    "epssScore",
    "exploitAvailable",
    "relatedVulnerabilities",
    "title",
    "sourceUrl",
    "suppressionReason",
    "findingArn",
    "repositoryName",
    "imageDigest",
    "databaseVersion",
    "databaseAgeDays",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: str) -> str:
    """`value`, with a leading `'` when a spreadsheet would evaluate it."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return defuse(str(value))


def record(row: Row, ctx: ExportContext) -> dict[str, Any]:
    """The row's values by column (before cell formatting)."""
    f, p = row.finding, row.package
    d = details(f)
    image = image_details(f)
    epss = f.get("epss")
    suppression = f.get("suppression")
    db = ctx.database
    return {
        "vulnerabilityId": row.vulnerability_id,
        "severity": row.severity,
        "status": row.status,
        "packageName": p.get("name"),
        "packageVersion": p.get("version"),
        "packageType": row.package_type,
        "fixedInVersion": row.fixed_in,
        "fixAvailable": f.get("fixAvailable"),
        "layerDigest": row.layer,
        "purl": p.get("purl"),
        "filePath": p.get("filePath"),
        "inspectorScore": f.get("inspectorScore"),
        "epssScore": epss.get("score") if isinstance(epss, Mapping) else None,
        "exploitAvailable": f.get("exploitAvailable"),
        "relatedVulnerabilities": related(f),
        "title": f.get("title"),
        "sourceUrl": d.get("sourceUrl"),
        "suppressionReason": suppression.get("reason")
        if isinstance(suppression, Mapping)
        else None,
        "findingArn": f.get("findingArn"),
        "repositoryName": image.get("repositoryName"),
        "imageDigest": image.get("imageHash") or ctx.image_digest,
        "databaseVersion": None if db is None else db.version,
        "databaseAgeDays": None if db is None else db.age_days,
    }


def render(findings: Sequence[Mapping[str, Any]], ctx: ExportContext) -> str:
    """The CSV text (header first)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, dialect="excel", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for text in ctx.incomplete:
        # first, so that no reader takes the rows that follow for the whole image
        writer.writerow([_cell(f"SCAN_INCOMPLETE: {text}")] + [""] * (len(COLUMNS) - 1))
    for row in rows(findings):
        values = record(row, ctx)
        writer.writerow([_cell(values[c]) for c in COLUMNS])
    return out.getvalue()
