"""`db sync` of several feeds writes an archive feed while the next one is parsed: what it
stores and reports is what syncing each feed alone, one after the other, stores and reports,
whatever fails, is unchanged or is not an archive in between."""

from __future__ import annotations

import dataclasses
import gc
import io
import re
import threading
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from dockwatch.clock import ControlledClock
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.feeds.feed import Feed
from dockwatch.feeds.kev import KevFeed
from dockwatch.feeds.osv_feed import OsvFeed
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb import parallel, runner
from dockwatch.vulndb.osv_feed_records import iter_osv_feed
from dockwatch.vulndb.runner import SyncOutcome, sync
from dockwatch.vulndb.service import VulnDb
from tests.builders.zips import damaged_member
from tests.support.advisories import osv_record
from tests.unit.feeds.upstream import Resource, Upstream, serve

ECOSYSTEMS = ("PyPI", "npm", "Maven", "Go", "crates.io", "RubyGems", "NuGet", "Packagist")


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


def _archive(ecosystem: str, count: int, fixed: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in range(count):
            rid = f"GHSA-{ecosystem[:2].lower()}{n:03}-xxxx-yyyy"
            zf.writestr(f"{rid}.json", osv_record(rid, ecosystem, f"p{n}", fixed))
    return buf.getvalue()


def _kev(count: int) -> bytes:
    entries = [
        {
            "cveID": f"CVE-2026-{1000 + n}",
            "vendorProject": "v",
            "product": "p",
            "vulnerabilityName": "n",
            "dateAdded": "2026-01-02",
            "shortDescription": "d",
            "requiredAction": "a",
            "dueDate": "2026-02-02",
            "knownRansomwareCampaignUse": "Unknown",
        }
        for n in range(count)
    ]
    return orjson.dumps({"catalogVersion": "1", "vulnerabilities": entries})


def _feeds(upstream: Upstream, tmp_path: Path) -> list[Feed]:
    policy = DownloadPolicy(max_attempts=1, tmp_root=tmp_path)
    feeds: list[Feed] = [
        OsvFeed(eco, url=upstream.url(f"/{eco}/all.zip"), policy=policy) for eco in ECOSYSTEMS
    ]
    return [*feeds, KevFeed(url=upstream.url("/kev.json"), policy=policy)]


def _archive_feeds(upstream: Upstream, tmp_path: Path, count: int) -> list[Feed]:
    """The first `count` archive feeds, each serving three records."""
    for eco in ECOSYSTEMS[:count]:
        upstream.resources[f"/{eco}/all.zip"] = Resource(_archive(eco, 3, "2.0"), etag='"1"')
    return _feeds(upstream, tmp_path)[:count]


def _vdb(path: Path) -> VulnDb:
    path.mkdir()
    db = Database(f"sqlite:///{path / 'v.db'}")
    migrate(db)
    return VulnDb(SqlStore(db), ControlledClock())


def _summary(outcomes: list[SyncOutcome]) -> list[tuple[Any, ...]]:
    out = []
    for o in outcomes:
        r = o.result
        changes = None if r is None else (r.version, r.added, r.modified, r.withdrawn)
        out.append((o.feed, o.status, o.problems, o.error is not None, changes))
    return out


def _stored(vdb: VulnDb, feeds: list[Feed]) -> dict[str, Any]:
    """Each feed's advisories and source row (its times left out: the two databases are
    written at different moments), and every delta."""
    out: dict[str, Any] = {}
    with vdb.store.read() as uow:
        repo = uow.vulns
        for f in feeds:
            row = repo.source(f.name)
            kept = None
            if row is not None:
                fields = {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
                kept = {k: v for k, v in fields.items() if not isinstance(v, datetime)}
                kept["failed"] = row.last_error_at is not None
                if row.last_error is not None:  # it names the download's temporary folder
                    kept["last_error"] = re.sub(r"dockwatch-feed-[^/]+", "", row.last_error)
            out[f.name] = (repo.stored_fingerprints(f.name), kept)
        out["changes"] = repo.changes_between(0, repo.current_version())
    return out


SECOND_ROUND = {
    "PyPI": "updated",
    "npm": "failed",  # its first member damaged: the feed fails as its parse starts
    "Maven": "updated",
    "Go": "unchanged",  # answered 304
    "crates.io": "updated",
    "RubyGems": "failed",  # the download fails
    "NuGet": "updated",
    "Packagist": "failed",  # a member damaged further on: it fails as it is parsed
    "kev": "updated",  # not an archive: read in this process
}


@pytest.mark.parametrize(
    ("workers", "kev_at"),
    [(1, -1), (2, -1), (2, 0), (2, 4)],
    ids=["1-last", "2-last", "2-first", "2-mid"],
)
def test_feeds_synced_together_store_what_each_synced_alone_stores(
    upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int, kev_at: int
) -> None:
    """Two rounds over eight archive feeds and KEV: the first stores everything; the second
    puts each way a feed can end after an archive feed whose write is still to come. KEV, read
    in this process, comes last, first (the next feed downloads while it is read) or among
    the archives."""
    monkeypatch.setattr(parallel, "MIN_FILES", 1)  # a pool even for these small archives
    monkeypatch.setattr(parallel, "CHUNK", 3)
    first = {eco: _archive(eco, 7 + i, "2.0") for i, eco in enumerate(ECOSYSTEMS)}
    second = {eco: _archive(eco, 9, "2.1") for eco in ECOSYSTEMS}
    second["npm"] = damaged_member(_archive("npm", 8, "3.0"), 0, "bad data")
    second["Packagist"] = damaged_member(_archive("Packagist", 8, "3.0"), 6, "bad data")
    second["Go"] = first["Go"]
    together, alone = _vdb(tmp_path / "together"), _vdb(tmp_path / "alone")
    feeds = _feeds(upstream, tmp_path)
    if kev_at >= 0:
        feeds.insert(kev_at, feeds.pop())
    for n, bodies in enumerate([first | {"kev": _kev(3)}, second | {"kev": _kev(5)}]):
        for name, body in bodies.items():
            path = "/kev.json" if name == "kev" else f"/{name}/all.zip"
            etag = f'"{0 if name == "Go" else n}"'
            status = 404 if n == 1 and name == "RubyGems" else 200
            upstream.resources[path] = Resource(body, etag=etag, status=status)
        with httpx.Client(timeout=10) as http:
            got = sync(together, feeds, http, workers=workers)
            each = [o for feed in feeds for o in sync(alone, [feed], http, workers=workers)]
        assert _summary(got) == _summary(each)
    assert [(o.feed.split(":")[-1], o.status) for o in got] == [
        (f.name.split(":")[-1], SECOND_ROUND[f.name.split(":")[-1]]) for f in feeds
    ]
    assert _stored(together, feeds) == _stored(alone, feeds)


def test_a_failed_write_is_raised_not_blamed_on_the_next_feed(
    upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write of a feed happens while the next feed is parsed; an error writing it ends
    the sync, as it did when each feed was written before the next was fetched."""
    feeds = _archive_feeds(upstream, tmp_path, 2)
    vdb = _vdb(tmp_path / "db")

    refused: list[object] = []
    write = vdb.apply_rows

    def refuse(*args: Any, **kwargs: Any) -> Any:
        if not refused:  # once: a second try would pass
            refused.append(args)
            raise ValueError("the disk is read-only")
        return write(*args, **kwargs)

    monkeypatch.setattr(vdb, "apply_rows", refuse)
    with httpx.Client(timeout=10) as http, pytest.raises(ValueError, match="read-only"):
        sync(vdb, feeds, http, workers=1)
    with vdb.store.read() as uow:
        assert uow.vulns.source(feeds[1].name) is None  # neither failed nor written


def test_the_next_feed_downloads_while_this_one_is_parsed(
    upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first feed's parse holds still until the second feed's download is asked for:
    fetched only once the parse has ended, the second feed would never be asked for, and the
    parse would give up waiting."""
    feeds = _archive_feeds(upstream, tmp_path, 2)
    second_url = upstream.url(f"/{ECOSYSTEMS[1]}/all.zip")
    asked = threading.Event()
    seen_while_parsing: list[bool] = []

    def parse_waiting(paths: Any, source: str, *args: Any) -> Iterator[Any]:
        records = iter_osv_feed(paths, source, *args)
        yield next(records)  # the parse has started
        if source == feeds[0].name:
            seen_while_parsing.append(asked.wait(timeout=30))
        yield from records

    def on_request(request: httpx.Request) -> None:
        if str(request.url) == second_url:
            asked.set()

    monkeypatch.setattr(runner, "iter_osv_feed", parse_waiting)
    vdb = _vdb(tmp_path / "db")
    with httpx.Client(timeout=10, event_hooks={"request": [on_request]}) as http:
        outcomes = sync(vdb, feeds, http, workers=1)
    assert seen_while_parsing == [True]
    assert [(o.feed, o.status) for o in outcomes] == [(f.name, "updated") for f in feeds]
    alone = _vdb(tmp_path / "alone")
    with httpx.Client(timeout=10) as http:
        for feed in feeds:
            sync(alone, [feed], http, workers=1)
    assert _stored(vdb, feeds) == _stored(alone, feeds)


def test_a_sync_stopped_by_an_error_leaves_no_download_behind(
    upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write that fails happens while the second feed is parsed and the third downloads:
    the third's download is removed, by the sync or by its thread as it ends."""
    feeds = _archive_feeds(upstream, tmp_path, 3)
    third_url = upstream.url(f"/{ECOSYSTEMS[2]}/all.zip")
    asked: list[str] = []
    vdb = _vdb(tmp_path / "db")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("the disk is read-only")

    monkeypatch.setattr(vdb, "apply_rows", refuse)
    hooks = {"request": [lambda request: asked.append(str(request.url))]}
    with httpx.Client(timeout=10, event_hooks=hooks) as http:
        with pytest.raises(ValueError, match="read-only"):
            sync(vdb, feeds, http, workers=1)
        for thread in threading.enumerate():
            if thread.name.startswith("download "):
                thread.join(30)
    assert third_url in asked  # it was downloading when the write failed
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("dockwatch-feed-")] == []


def test_the_collector_is_held_off_while_a_sync_reads_and_writes(
    upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows of a feed are acyclic: full collections over them were 0.28-0.40 s of the
    syncing process's CPU for the four archives of `bench/feed_sync.py` (745 collections)."""
    feeds = _archive_feeds(upstream, tmp_path, 2)
    vdb = _vdb(tmp_path / "db")
    enabled: list[bool] = []
    write = vdb.apply_rows

    def watched(*args: Any, **kwargs: Any) -> Any:
        enabled.append(gc.isenabled())
        return write(*args, **kwargs)

    monkeypatch.setattr(vdb, "apply_rows", watched)
    assert gc.isenabled()
    with httpx.Client(timeout=10) as http:
        outcomes = sync(vdb, feeds, http, workers=1)
    assert [o.status for o in outcomes] == ["updated", "updated"]
    assert enabled == [False, False]
    assert gc.isenabled()  # as it was before
