"""EPSS scores CSV, optionally gzipped (https://www.first.org/epss/data_stats).

FIRST publishes the daily file at `https://epss.empiricalsecurity.com/epss_scores-current.csv.gz`
(redirecting to `epss_scores-YYYY-MM-DD.csv.gz`). Since model v2022.01.01 its first line is a
comment, `#model_version:v2023.03.01,score_date:2023-03-20T00:00:00+0000`, then the header
`cve,epss,percentile`, then one row per CVE.
"""

from __future__ import annotations

import gzip
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, ClassVar

from dockwatch.feeds.download import SingleFileFeed, Verify, verify_gzip
from dockwatch.feeds.feed import (
    FeedFormatError,
    FeedItem,
    FeedKind,
    ParseProblem,
)
from dockwatch.model.advisory import CveID, EpssScore, is_cve, to_utc

logger = logging.getLogger(__name__)

EPSS_URL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
SOURCE = "epss"
_MAX_LINE = 4096


def parse_comment(line: str) -> tuple[str, datetime | None]:
    """(model_version, score_date) from the `#model_version:…,score_date:…` line."""
    model, when = "", None
    for part in line.lstrip("#").strip().split(","):
        key, _, value = part.partition(":")
        key, value = key.strip(), value.strip()
        if key == "model_version":
            model = value[:64]
        elif key == "score_date":
            try:
                when = to_utc(datetime.fromisoformat(value))
            except ValueError:
                when = None
    return model, when


def parse_stream(text: IO[str], where: str) -> Iterator[EpssScore | ParseProblem]:
    """Every score in a decoded CSV stream."""
    first = text.readline(_MAX_LINE)
    model, when = "", None
    if first.startswith("#"):
        model, when = parse_comment(first)
        header = text.readline(_MAX_LINE)
    else:
        header = first
    cols = [c.strip() for c in header.strip().split(",")]
    if cols[:3] != ["cve", "epss", "percentile"]:
        raise FeedFormatError(SOURCE, f"unexpected header {header[:80]!r}", path=where)
    lineno = 2 if first.startswith("#") else 1
    while True:
        line = text.readline(_MAX_LINE)
        if not line:
            break
        lineno += 1
        if not line.endswith("\n") and len(line) >= _MAX_LINE:
            while (rest := text.readline(_MAX_LINE)) and not rest.endswith("\n"):
                pass  # skip the rest of an absurdly long line without holding it
            yield _problem(where, lineno, "line too long", None)
            continue
        line = line.strip()
        if not line:
            continue
        # The file has no quoting (ids and numbers only), so a split is exact and fast.
        parts = line.split(",")
        try:
            cve, score, pct = parts[0], float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            yield _problem(where, lineno, f"bad row {line[:80]!r}", None)
            continue
        if not is_cve(cve):
            yield _problem(where, lineno, f"not a CVE id: {cve[:40]!r}", None)
            continue
        if not (0.0 <= score <= 1.0 and 0.0 <= pct <= 1.0):
            yield _problem(where, lineno, "score or percentile outside 0..1", cve)
            continue
        yield EpssScore(CveID(cve), score, pct, model, when)


def _problem(where: str, lineno: int, reason: str, cve: str | None) -> ParseProblem:
    logger.warning("epss: skipped %s:%d: %s", where, lineno, reason, extra={"feed": SOURCE})
    return ParseProblem(SOURCE, f"{where}:{lineno}", reason, cve)


def parse_file(path: Path) -> Iterator[EpssScore | ParseProblem]:
    """One EPSS CSV file, gzipped or not (sniffed by the gzip magic bytes)."""
    with path.open("rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
    opened: IO[bytes] = gzip.open(path, "rb") if gz else path.open("rb")  # type: ignore[assignment]
    try:
        with opened, io.TextIOWrapper(opened, encoding="utf-8", newline="") as text:
            yield from parse_stream(text, str(path))
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise FeedFormatError(SOURCE, f"unreadable: {e}", path=str(path)) from e


@dataclass
class EpssFeed(SingleFileFeed):
    """Today's EPSS scores."""

    url: str = EPSS_URL
    name: str = SOURCE
    kind: FeedKind = "enrichment"
    filename: ClassVar[str] = "epss.csv.gz"
    verify: ClassVar[Verify] = staticmethod(verify_gzip)

    def parse_file(self, path: Path) -> Iterator[FeedItem]:
        """The records of one file."""
        yield from parse_file(path)
