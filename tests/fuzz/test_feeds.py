"""Feed parsers: any file gives advisories and ParseProblems, or FeedFormatError; an OSV record
gives an advisory or BadRecord. Nothing else."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson

from dockwatch.feeds import alpine, debian, epss, kev, nvd
from dockwatch.feeds import fields as f
from dockwatch.feeds.feed import FeedFormatError
from dockwatch.feeds.osv import parse_record
from tests.fuzz.harness import corpus, fuzz


def via_file(parse: Callable[[Path], Iterable[object]]) -> Callable[[bytes], None]:
    """Write the input to a file and parse it all (feeds parse downloaded files)."""

    def run(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "feed"
            path.write_bytes(data)
            for _ in parse(path):
                pass

    return run


def test_osv_record(fuzz_seconds: float) -> None:
    def run(data: bytes) -> None:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            return  # the folder/zip reader reports undecodable files before parsing
        parse_record(doc, "ghsa")

    fuzz(run, corpus("feed-osv"), (f.BadRecord,), fuzz_seconds)


def test_debian_tracker(fuzz_seconds: float) -> None:
    fuzz(via_file(lambda p: debian.parse_file(str(p))), corpus("feed-debian"), (FeedFormatError,), fuzz_seconds)  # fmt: skip


def test_alpine_secdb(fuzz_seconds: float) -> None:
    fuzz(via_file(lambda p: alpine.parse_files([(p, "v3.19/main")])), corpus("feed-alpine"), (FeedFormatError,), fuzz_seconds)  # fmt: skip


def test_nvd_pages(fuzz_seconds: float) -> None:
    fuzz(via_file(nvd.parse_file), corpus("feed-nvd"), (FeedFormatError,), fuzz_seconds)


def test_kev_catalogue(fuzz_seconds: float) -> None:
    fuzz(via_file(kev.parse_file), corpus("feed-kev"), (FeedFormatError,), fuzz_seconds)


def test_epss_scores(fuzz_seconds: float) -> None:
    fuzz(via_file(epss.parse_file), corpus("feed-epss"), (FeedFormatError,), fuzz_seconds)
