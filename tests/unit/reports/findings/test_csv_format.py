"""CSV: parsed back with the csv module; one row per (finding, package)."""

from __future__ import annotations

import csv
import io

from dockwatch.reports.findings import csv_format

from .sample import context, expected_pairs, findings


def _read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_header_and_rows_round_trip() -> None:
    items = findings()
    text = csv_format.render(items, context())
    assert text.split("\r\n", 1)[0] == ",".join(csv_format.COLUMNS)  # stable column order
    rows = _read(text)
    got = sorted(
        (
            r["vulnerabilityId"],
            r["packageName"].removeprefix("'")
            if r["packageName"].startswith("'=")
            else r["packageName"],
            r["packageVersion"],
            r["fixedInVersion"] or None,
            r["severity"],
            r["status"],
        )
        for r in rows
    )
    assert got == expected_pairs(items)


def test_lists_joined_and_context_columns() -> None:
    rows = _read(csv_format.render(findings(), context()))
    first = next(r for r in rows if r["vulnerabilityId"] == "CVE-2024-0001")
    assert first["relatedVulnerabilities"] == "GHSA-xxxx-yyyy-zzzz;PYSEC-2024-1"
    assert first["databaseVersion"] == "42" and first["databaseAgeDays"] == "9"
    assert first["epssScore"] == "0.42"
    suppressed = next(r for r in rows if r["status"] == "SUPPRESSED")
    assert suppressed["suppressionReason"].startswith("not reachable")


def test_formulas_are_defused() -> None:
    rows = _read(csv_format.render(findings(), context()))
    names = {r["packageName"] for r in rows}
    assert '\'=HYPERLINK("x")' in names
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    assert csv_format.defuse("-1+1") == "'-1+1"
    assert csv_format.defuse("1.0") == "1.0"


def test_empty_is_a_header_only() -> None:
    assert _read(csv_format.render([], context())) == []
    assert csv_format.render([], context()).count("\r\n") == 1


def test_quotes_and_commas_survive() -> None:
    items = findings()
    rows = _read(csv_format.render(items, context()))
    titles = {f["title"] for f in items}
    got = {r["title"] for r in rows}
    assert got == titles  # `GHSA-... - =HYPERLINK("x"), café[bold]` has a comma and quotes
