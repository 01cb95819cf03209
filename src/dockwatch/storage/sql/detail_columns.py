"""The fields of a finding detail document that filters compare, as the columns they are kept in.

Finding filters on vendor severity, related vulnerabilities and a package's release,
architecture and epoch used to read the detail document's JSON in SQL, once for every finding
a query looked at: with the documents compressed on SQLite (`schema/detail_document.py`) that
read would decompress each one. The fields are taken out once, when a detail is stored (and by
migration findings/8 for the details stored before), into a few short columns of
`finding_details` and `detail_packages`, which filters compare like any column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

PACKAGE_COLUMNS = ("release", "arch", "epoch")
"""The `detail_packages` columns `package_columns` fills, for each package."""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def detail_columns(document: Mapping[str, Any]) -> dict[str, Any]:
    """The `finding_details` columns of a parsed detail document (title, vendor severity,
    related vulnerabilities as a JSON array of strings, NULL when there are none)."""
    details = document.get("packageVulnerabilityDetails") or {}
    related = [v for v in details.get("relatedVulnerabilities") or () if isinstance(v, str)]
    return {
        "title": _text(document.get("title")),
        "vendor_severity": _text(details.get("vendorSeverity")),
        "related_vulnerabilities": orjson.dumps(related).decode() if related else None,
    }


def package_columns(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`PACKAGE_COLUMNS` of each vulnerable package of a parsed detail document, in the
    document's order (the order of its `detail_packages` rows, `seq`)."""
    details = document.get("packageVulnerabilityDetails") or {}
    out = []
    for package in details.get("vulnerablePackages") or ():
        epoch = package.get("epoch")
        out.append(
            {
                "release": _text(package.get("release")),
                "arch": _text(package.get("arch")),
                "epoch": epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None,
            }
        )
    return out
