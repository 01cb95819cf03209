"""A feed's download whose archive cannot be read whole fails the feed and leaves the
database as it was: its members are checked as they are parsed (the download's verification
reads only the archive's structure), so a damaged member, or an archive expanding beyond its
cap, must stop the sync there rather than withdraw the records it could not read."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockwatch.clock import ControlledClock
from dockwatch.feeds import osv
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.feeds.feed import FeedFormatError, Fetched
from dockwatch.feeds.osv_feed import OsvFeed
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb import parallel
from dockwatch.vulndb.runner import sync
from dockwatch.vulndb.service import VulnDb
from tests.builders.zips import DAMAGED_MEMBERS, damaged_member
from tests.support.advisories import osv_record
from tests.unit.feeds.upstream import Resource, Upstream, serve


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


def _archive(count: int, fixed: str = "2.0") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in range(count):
            rid = f"GHSA-dmg-{n:04}"
            zf.writestr(f"{rid}.json", osv_record(rid, "PyPI", f"p{n}", fixed))
    return buf.getvalue()


def _synced(tmp_path: Path, upstream: Upstream, limits: osv.Limits) -> tuple[VulnDb, OsvFeed]:
    """A database holding the feed's first download: six records."""
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    vdb = VulnDb(SqlStore(db), ControlledClock())
    upstream.resources["/all.zip"] = Resource(_archive(6), etag='"1"')
    feed = OsvFeed(
        "PyPI",
        url=upstream.url("/all.zip"),
        policy=DownloadPolicy(max_attempts=1, tmp_root=tmp_path),
        limits=limits,
    )
    with httpx.Client(timeout=10) as http:
        (first,) = sync(vdb, [feed], http, workers=1)
    assert first.status == "updated"
    return vdb, feed


def _fails_and_keeps(vdb: VulnDb, feed: OsvFeed, workers: int, reason: str) -> None:
    with vdb.store.read() as uow:
        before = uow.vulns.stored_fingerprints(feed.name)
    with httpx.Client(timeout=10) as http:
        (outcome,) = sync(vdb, [feed], http, workers=workers)
        fetched = feed.fetch(None, http)  # the download itself passes its verification
    assert outcome.status == "failed" and outcome.error is not None
    assert "damaged download" in outcome.error and reason in outcome.error
    with vdb.store.read() as uow:
        assert uow.vulns.stored_fingerprints(feed.name) == before  # nothing withdrawn
        source = uow.vulns.source(feed.name)
    assert source is not None and source.last_error is not None
    assert isinstance(fetched, Fetched)
    with fetched, pytest.raises(FeedFormatError, match="damaged download"):
        list(feed.parse(fetched))  # the model's reading refuses it alike


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("how", DAMAGED_MEMBERS)
def test_a_damaged_member_fails_the_feed(
    upstream: Upstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
    workers: int,
) -> None:
    monkeypatch.setattr(parallel, "MIN_FILES", 1)  # a pool even for this small archive
    monkeypatch.setattr(parallel, "CHUNK", 2)
    vdb, feed = _synced(tmp_path, upstream, osv.Limits())
    body = damaged_member(_archive(8, fixed="3.0"), 5, how)
    with pytest.raises((zipfile.BadZipFile, zlib.error, RuntimeError, UnicodeDecodeError)):
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            zf.read(zf.infolist()[5])
    upstream.resources["/all.zip"] = Resource(body, etag='"2"')
    _fails_and_keeps(vdb, feed, workers, "GHSA-dmg-0005.json")


@pytest.mark.parametrize("workers", [1, 2])
def test_an_archive_over_its_cap_fails_the_feed(
    upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    monkeypatch.setattr(parallel, "CHUNK", 2)
    record_bytes = len(osv_record("GHSA-dmg-0000", "PyPI", "p0", "2.0"))
    limits = osv.Limits(max_archive_bytes=8 * record_bytes)  # six fit, twelve do not
    vdb, feed = _synced(tmp_path, upstream, limits)
    upstream.resources["/all.zip"] = Resource(_archive(12), etag='"2"')
    _fails_and_keeps(vdb, feed, workers, osv.OVER_ARCHIVE_CAP)
