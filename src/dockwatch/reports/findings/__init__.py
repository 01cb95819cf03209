"""Findings exports: JSON, CSV, SARIF 2.1.0, CycloneDX 1.6 (VEX), ASFF and a table.

Each format is a pure function `render(findings, ctx) -> str` over Inspector-shaped finding
dicts (`dockwatch.findings.shape.inspector_finding`) in its own module; `formats` maps names to
them. `ignore` reads the ignore lists and VEX documents `dockwatch scan --ignore-file` takes.
"""

from __future__ import annotations

from dockwatch.reports.common import DatabaseInfo, ExportContext

from .formats import FORMATS, ExportFormat, UnknownFormat, lookup, render

__all__ = [
    "FORMATS",
    "DatabaseInfo",
    "ExportContext",
    "ExportFormat",
    "UnknownFormat",
    "lookup",
    "render",
]
