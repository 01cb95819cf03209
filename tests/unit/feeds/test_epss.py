"""EPSS CSV: the comment line, gzip or not, and bad rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dockwatch.feeds.epss import parse_comment, parse_file
from dockwatch.feeds.feed import FeedFormatError, ParseProblem
from dockwatch.model.advisory import EpssScore
from tests.builders import feeds as b


@pytest.mark.parametrize("gz", [True, False])
def test_documented_format(tmp_path: Path, gz: bool) -> None:
    f = tmp_path / "epss.csv"
    f.write_bytes(b.epss_csv(b.EPSS_EXAMPLE_ROWS, gz=gz))
    out = list(parse_file(f))
    assert [(x.cve_id, x.score, x.percentile) for x in out if isinstance(x, EpssScore)] == [
        (c, round(s, 5), round(p, 5)) for c, s, p in b.EPSS_EXAMPLE_ROWS
    ]
    first = out[0]
    assert isinstance(first, EpssScore)
    assert first.model_version == "v2025.03.14"
    assert first.score_date == datetime(2025, 3, 20, 12, 55, tzinfo=UTC)


def test_without_comment_line(tmp_path: Path) -> None:
    f = tmp_path / "old.csv.gz"
    f.write_bytes(b.epss_csv(b.EPSS_EXAMPLE_ROWS, model_version=None))
    out = [x for x in parse_file(f) if isinstance(x, EpssScore)]
    assert len(out) == 4 and out[0].model_version == "" and out[0].score_date is None


def test_comment_with_offset_format() -> None:
    assert parse_comment("#model_version:v2023.03.01,score_date:2023-03-20T00:00:00+0000\n") == (
        "v2023.03.01", datetime(2023, 3, 20, tzinfo=UTC),
    )  # fmt: skip


def test_bad_rows(tmp_path: Path) -> None:
    body = (
        "#model_version:v2025.03.14,score_date:2025-03-20T00:00:00Z\ncve,epss,percentile\n"
        "CVE-2021-44228,0.97,0.99\nCVE-2021-1,0.1,0.1\nCVE-2021-44229,abc,0.5\n"
        "CVE-2021-44230,1.5,0.5\nCVE-2021-44231\n" + "CVE-2021-44232," + "9" * 100_000 + ",0.1\n"
        "\nCVE-2021-44233,0.2,0.3\n"
    )
    f = tmp_path / "e.csv"
    f.write_text(body)
    out = list(parse_file(f))
    assert [x.cve_id for x in out if isinstance(x, EpssScore)] == [
        "CVE-2021-44228",
        "CVE-2021-44233",
    ]
    assert len([x for x in out if isinstance(x, ParseProblem)]) == 5
    f.write_text("id,score\nCVE-2021-1,0.1\n")
    with pytest.raises(FeedFormatError):
        list(parse_file(f))
    f.write_bytes(b.epss_csv(b.EPSS_EXAMPLE_ROWS)[:-12])  # truncated gzip
    with pytest.raises(FeedFormatError):
        list(parse_file(f))
