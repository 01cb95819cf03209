"""CISA KEV: the whole real catalogue and malformed entries."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from dockwatch.feeds.feed import FeedFormatError, ParseProblem
from dockwatch.feeds.kev import parse_file
from dockwatch.model.advisory import KevEntry
from tests.builders import feeds as b

KEV = (
    Path(__file__).resolve().parents[3].parent
    / "shared/vulndata/cisagov-kev-data/known_exploited_vulnerabilities.json"
)


@pytest.mark.skipif(not KEV.is_file(), reason="../shared/vulndata is absent")
def test_real_catalogue() -> None:
    items = list(parse_file(KEV))
    entries: list[Any] = [x for x in items if isinstance(x, KevEntry)]
    assert len(entries) == len(items) == 1404  # MANIFEST.md: 1,404 entries
    raw = json.loads(KEV.read_bytes())["vulnerabilities"]
    assert [e.cve_id for e in entries] == [r["cveID"] for r in raw]
    assert sum(e.known_ransomware_use is True for e in entries) == sum(
        r["knownRansomwareCampaignUse"] == "Known" for r in raw
    )
    assert [e.date_added.isoformat() for e in entries] == [r["dateAdded"] for r in raw]
    assert min(e.date_added for e in entries) == date(2021, 11, 3)
    assert max(e.date_added for e in entries) == date(2025, 8, 25)


def test_malformed_entries(tmp_path: Path) -> None:
    entries = [
        {"cveID": "CVE-2021-44228", "vendorProject": "Apache", "product": "Log4j2", "vulnerabilityName": "Log4Shell",
         "dateAdded": "2021-12-10", "dueDate": "2021-12-24", "knownRansomwareCampaignUse": "Known", "cwes": ["CWE-20", "CWE-917", "junk"]},
        {"cveID": "not-a-cve", "dateAdded": "2021-12-10"},
        {"cveID": "CVE-2021-0001", "dateAdded": "last tuesday"},
        {"cveID": "CVE-2021-0002"},
        "CVE-2021-0003",
    ]  # fmt: skip
    f = tmp_path / "kev.json"
    f.write_bytes(b.kev_catalogue(entries))
    items = list(parse_file(f))
    (ok,) = [x for x in items if isinstance(x, KevEntry)]
    assert ok.known_ransomware_use is True and ok.cwe_ids == ("CWE-20", "CWE-917")
    assert ok.due_date == date(2021, 12, 24)
    assert len([x for x in items if isinstance(x, ParseProblem)]) == 4
    f.write_bytes(b'{"vulnerabilities": {}}')
    with pytest.raises(FeedFormatError):
        list(parse_file(f))
