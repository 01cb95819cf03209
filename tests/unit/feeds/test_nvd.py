"""NVD CVE API 2.0 pages: CVSS enrichment only."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from dockwatch.feeds.feed import FeedFormatError, ParseProblem
from dockwatch.feeds.nvd import parse_file, parse_page
from dockwatch.model.advisory import NvdCvss, SeverityType
from tests.builders import feeds as b


def test_documented_example() -> None:
    page = b.nvd_page(b.NVD_EXAMPLES, 0, len(b.NVD_EXAMPLES), 2000)
    items = list(parse_page(page, "p"))
    assert all(isinstance(x, NvdCvss) for x in items)
    by: dict[str, NvdCvss] = {x.cve_id: x for x in items if isinstance(x, NvdCvss)}
    ex = by["CVE-2019-1010218"]
    # FIRST's formulas: v3.1 AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H = 7.5; v2 AV:N/AC:L/Au:N/C:N/I:N/A:P = 5.0
    assert [(s.type, s.base_score, s.source) for s in ex.severities] == [
        (SeverityType.CVSS_V3, 7.5, "nvd@nist.gov"),
        (SeverityType.CVSS_V2, 5.0, "nvd@nist.gov"),
    ]
    assert ex.cwe_ids == ("CWE-400",)  # NVD-CWE-Other is not a CWE id
    assert ex.description.startswith("Cherokee") and ex.status == "Analyzed"
    assert ex.published is not None and ex.published.tzinfo is not None
    xz = by["CVE-2024-3094"]
    assert [(s.type, s.base_score) for s in xz.severities] == [
        (SeverityType.CVSS_V4, 10.0), (SeverityType.CVSS_V3, 10.0), (SeverityType.CVSS_V3, 9.0),
    ]  # fmt: skip
    assert [s.source for s in xz.severities] == ["cna@example.org", "nvd@nist.gov", "cve@mitre.org"]
    assert by["CVE-2017-5638"].severities[0].base_score == 10.0
    assert by["CVE-2023-0001"].status == "Rejected" and by["CVE-2023-0001"].severities == ()


def test_malformed_items_are_problems(tmp_path: Path) -> None:
    items = [
        b.nvd_cve("CVE-2020-0001"),
        {"cve": {"id": "NOT-A-CVE"}},
        {"cve": "CVE-2020-0002"},
        {"cve": {"id": "CVE-2020-0003", "metrics": {"cvssMetricV31": "high"}}},
        {"cve": {"id": "CVE-2020-0004", "metrics": {"cvssMetricV31": [{"cvssData": {"vectorString": "CVSS:3.1/garbage", "baseScore": 4.2, "baseSeverity": "MEDIUM"}}]}}},
    ]  # fmt: skip
    out = list(parse_page(b.nvd_page(items, 0, 5, 5), "p"))
    good = [x for x in out if isinstance(x, NvdCvss)]
    assert [x.cve_id for x in good] == ["CVE-2020-0001", "CVE-2020-0004"]
    # a vector the library refuses keeps NVD's own score
    assert good[1].severities[0].base_score == 4.2 and good[1].severities[0].rating == "MEDIUM"
    assert len([x for x in out if isinstance(x, ParseProblem)]) == 3
    with pytest.raises(FeedFormatError):
        list(parse_page({"vulnerabilities": "x"}, "p"))
    f = tmp_path / "page.json"
    f.write_bytes(b"{")
    with pytest.raises(FeedFormatError):
        list(parse_file(f))


def test_generated_page(tmp_path: Path) -> None:
    f = tmp_path / "page.json"
    f.write_bytes(orjson.dumps(b.nvd_page(b.generated_nvd(500), 0, 500, 500)))
    out = list(parse_file(f))
    assert len(out) == 500 and all(
        isinstance(x, NvdCvss) and x.severities[0].base_score == 9.8 for x in out
    )
