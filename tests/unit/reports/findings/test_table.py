"""The table: active findings only, heading with the database age, inert hostile text."""

from __future__ import annotations

import sys

import pytest

from dockwatch.reports.findings import table

from .sample import context, expected_pairs, findings


def _body_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("CVE-", "GHSA-", "PYSEC-"))]


@pytest.mark.parametrize("use_rich", [True, False])
def test_lists_active_pairs(use_rich: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not use_rich:
        monkeypatch.setitem(sys.modules, "rich", None)  # import fails: the plain fallback
    items = findings()
    text = table.render(items, context())
    lines = _body_lines(text)
    active = expected_pairs(items, statuses=("ACTIVE",))
    assert len(lines) == len(active)
    for vuln, name, version, fixed, severity, _ in active:
        safe_name = name.replace("\x1b", "?")
        assert any(
            line.split()[0] == vuln
            and severity in line
            and safe_name.split("[")[0] in line
            and version.replace("\x07", "?") in line
            and (fixed is None or fixed in line)
            for line in lines
        ), (vuln, name)
    assert "CVE-2024-0003" not in text and "CVE-2023-0004" not in text
    assert "Vulnerability database: version 42, updated 2026-02-20 (9 days ago)" in text
    assert "5 vulnerabilities (1 CRITICAL, 1 MEDIUM, 1 LOW, 1 UNTRIAGED)" not in text
    assert "1 suppressed not shown" in text
    assert "\x1b" not in text and "\x07" not in text


def test_summary_counts_findings() -> None:
    text = table.render(findings(), context())
    assert (
        "4 vulnerabilities (1 CRITICAL, 1 MEDIUM, 1 LOW, 1 UNTRIAGED); 1 suppressed not shown"
        in text
    )


def test_rich_markup_is_shown_not_interpreted() -> None:
    text = table.render(findings(), context())
    assert "café[bold]" in text


def test_colour_only_when_asked() -> None:
    coloured = table.render(findings(), context(color=True, width=120))
    assert "\x1b[" in coloured
    narrow = table.render(findings(), context(width=120)).splitlines()
    body = narrow[narrow.index("") + 1 :]  # below the heading (which names the full digest)
    assert all(len(line) <= 120 for line in body)


def test_nothing_found() -> None:
    text = table.render([], context())
    assert "0 vulnerabilities" in text
    assert "VULNERABILITY" not in text
