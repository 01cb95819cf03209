"""Every export says when the scan it reports was cut short (never a clean-looking result)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from dockwatch.reports.findings.formats import FORMATS, render
from tests.unit.reports.findings.sample import context, findings

CUT = (
    "layer sha256:" + "0f" * 32 + ": UNCOMPRESSED_SIZE_LIMIT: layer exceeds 1024 uncompressed bytes"
)


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize("with_findings", [True, False])
def test_every_format_says_the_scan_was_incomplete(name: str, with_findings: bool) -> None:
    found = findings() if with_findings else []
    text = render(name, found, context(incomplete=(CUT,)))
    if name == "asff" and not with_findings:
        # ASFF is one document per finding: with none there is nothing to carry the note
        # (`dockwatch scan` then exits with status 2 and says so on stderr)
        assert json.loads(text) == {"Findings": []} or json.loads(text) == []
        return
    assert "UNCOMPRESSED_SIZE_LIMIT" in text
    clean = render(name, found, context())
    assert "UNCOMPRESSED_SIZE_LIMIT" not in clean


def test_structured_markers() -> None:
    ctx = context(incomplete=(CUT,))
    doc = json.loads(render("json", [], ctx))
    assert doc["scanIncomplete"] == [CUT]
    sarif = json.loads(render("sarif", [], ctx))
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["level"] == "error"
    assert json.loads(render("sarif", [], context()))["runs"][0]["invocations"][0][
        "executionSuccessful"
    ]
    rows = list(csv.reader(io.StringIO(render("csv", [], ctx))))
    assert rows[1][0] == f"SCAN_INCOMPLETE: {CUT}"
    cdx = json.loads(render("cyclonedx-json", [], ctx))
    assert {"name": "dockwatch:scan:incomplete", "value": CUT} in cdx["metadata"]["properties"]
