"""A table for people: one line per (vulnerability, package), worst first.

Only ACTIVE findings are listed (a suppressed finding was decided on; the summary counts it).
The heading names the image and the vulnerability database with its age. `rich` draws the
table when it is installed; otherwise the columns are aligned as plain text, so the command
works in a minimal install. Every cell goes through `printable()` and is passed to rich as a
`Text`, never as markup, because names and versions come from the image.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from dockwatch.reports.common import (
    ExportContext,
    Row,
    image_digest,
    printable,
    rows,
    severity_counts,
    subject_name,
)

HEADERS = ("VULNERABILITY", "SEVERITY", "PACKAGE", "INSTALLED", "FIXED IN", "TYPE", "LAYER")
STYLES = {
    "CRITICAL": "bold red",
    "HIGH": "red",
    "MEDIUM": "yellow",
    "LOW": "cyan",
    "INFORMATIONAL": "dim",
    "UNTRIAGED": "dim",
}
WIDE = 10_000
"""The line width when none is given: wide enough that no column wraps."""


def cells(row: Row) -> tuple[str, ...]:
    """The row's cells, in `HEADERS` order."""
    layer = row.layer or ""
    short_layer = layer.split(":", 1)[-1][:12] if layer else ""
    return tuple(
        printable(v, 200)
        for v in (
            row.vulnerability_id,
            row.severity,
            row.package.get("name"),
            row.package.get("version"),
            row.fixed_in or "",
            row.package_type,
            short_layer,
        )
    )


def heading(findings: Sequence[Mapping[str, Any]], ctx: ExportContext) -> list[str]:
    """The lines above the table."""
    name = ctx.image_reference or subject_name(ctx, findings)
    digest = image_digest(ctx, findings)
    lines = [f"Image: {printable(name)}" + (f" ({digest})" if digest else "")]
    if ctx.os:
        lines.append(f"OS: {printable(ctx.os)}")
    if ctx.database is not None:
        lines.append(f"Vulnerability database: {ctx.database.describe()}")
    lines += [f"SCAN INCOMPLETE: {printable(text)}" for text in ctx.incomplete]
    return lines


def summary(findings: Sequence[Mapping[str, Any]]) -> str:
    """`3 vulnerabilities (1 CRITICAL, 2 HIGH); 1 suppressed not shown`."""
    active = severity_counts(findings, "ACTIVE")
    total = sum(active.values())
    text = f"{total} vulnerabilit{'y' if total == 1 else 'ies'}"
    if active:
        text += " (" + ", ".join(f"{n} {s}" for s, n in active.items()) + ")"
    suppressed = sum(severity_counts(findings, "SUPPRESSED").values())
    if suppressed:
        text += f"; {suppressed} suppressed not shown"
    return text


def _plain(table: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [HEADERS, *table]) for i in range(len(HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    head = "  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True)).rstrip()
    return "\n".join([head, *lines]) + "\n"


def _rich(table_rows: list[tuple[str, ...]], ctx: ExportContext) -> str | None:
    try:
        from rich import box
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text
    except ImportError:
        return None
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for h in HEADERS:
        table.add_column(h, no_wrap=ctx.width is None)
    for r in table_rows:
        values = [Text(c) for c in r]
        values[1].stylize(STYLES.get(r[1], ""))
        table.add_row(*values)
    out = io.StringIO()
    console = Console(
        file=out,
        width=ctx.width or WIDE,
        force_terminal=ctx.color,
        no_color=not ctx.color,
        color_system="standard" if ctx.color else None,
        highlight=False,
        emoji=False,
        markup=False,
        soft_wrap=False,
    )
    console.print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


def render(findings: Sequence[Mapping[str, Any]], ctx: ExportContext) -> str:
    """The table text (heading, table, summary)."""
    active = [cells(r) for r in rows(findings, statuses=("ACTIVE",))]
    parts = ["\n".join(heading(findings, ctx)) + "\n"]
    if active:
        parts.append("\n" + (_rich(active, ctx) or _plain(active)))
    parts.append("\n" + summary(findings) + "\n")
    return "".join(parts)
