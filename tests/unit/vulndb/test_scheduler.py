"""Scheduled feed syncs against a local upstream, with a controlled clock: what is due when,
backoff with jitter after failures, conditional requests, and no overlapping syncs."""

from __future__ import annotations

import logging
import os
import random
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from dockwatch.clock import ControlledClock
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.feeds.osv_feed import OsvFeed
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.runner import SyncOutcome
from dockwatch.vulndb.scheduler import LEASE_TTL, Backoff, FeedScheduler, SyncStopped
from dockwatch.vulndb.service import VulnDb
from tests.builders.feeds import osv_zip
from tests.unit.feeds.upstream import Resource, Upstream, serve

INTERVAL = 3600.0


def _record(vid: str, package: str) -> dict[str, object]:
    return {
        "id": vid,
        "modified": "2026-11-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2"}]}],
            }
        ],
    }


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


@pytest.fixture
def vdb(tmp_path: Path) -> VulnDb:
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    return VulnDb(SqlStore(db), ControlledClock())


def _publish(upstream: Upstream, tmp_path: Path, etag: str, *records: dict[str, object]) -> None:
    body = osv_zip(tmp_path / f"{etag}.zip", records).read_bytes()
    upstream.resources["/PyPI/all.zip"] = Resource(body, etag=f'"{etag}"')


def _scheduler(vdb: VulnDb, upstream: Upstream, **kwargs: object) -> FeedScheduler:
    feed = OsvFeed("PyPI", url=upstream.url("/PyPI/all.zip"), policy=DownloadPolicy(max_attempts=1))
    options: dict[str, object] = {
        "interval": INTERVAL,
        "http": lambda: httpx.Client(timeout=10),
        "rng": random.Random(7),
        **kwargs,
    }
    return FeedScheduler(vdb, [feed], vdb.clock, **options)  # type: ignore[arg-type]


def _clock(vdb: VulnDb) -> ControlledClock:
    assert isinstance(vdb.clock, ControlledClock)
    return vdb.clock


def test_an_empty_database_syncs_at_once_then_every_interval_conditionally(
    vdb: VulnDb, upstream: Upstream, tmp_path: Path
) -> None:
    _publish(upstream, tmp_path, "v1", _record("PYSEC-1", "alpha"))
    s = _scheduler(vdb, upstream)
    (first,) = s.run_due()
    assert (first.feed, first.status) == ("osv:PyPI", "updated")
    assert vdb.status()["advisories"] == 1
    assert s.run_due() == []  # not due again before the interval
    assert len(upstream.log) == 1
    _clock(vdb).advance(timedelta(seconds=INTERVAL + 1))
    (second,) = s.run_due()
    assert second.status == "unchanged"
    assert upstream.log[-1][1].get("If-None-Match") == '"v1"'  # a conditional request
    _publish(upstream, tmp_path, "v2", _record("PYSEC-1", "alpha"), _record("PYSEC-2", "beta"))
    _clock(vdb).advance(timedelta(seconds=INTERVAL + 1))
    (third,) = s.run_due()
    assert third.status == "updated" and third.result is not None
    assert third.result.added == ["PYSEC-2"]
    assert third.result.package_keys == {("PyPI", "beta")}


def test_a_restart_resumes_the_schedule_from_the_last_success(
    vdb: VulnDb, upstream: Upstream, tmp_path: Path
) -> None:
    _publish(upstream, tmp_path, "v1", _record("PYSEC-1", "alpha"))
    _scheduler(vdb, upstream).run_due()
    last = vdb.status()["sources"][0]["lastSuccessAt"]
    again = _scheduler(vdb, upstream)
    again.plan()
    assert again.due_at("osv:PyPI") == datetime.fromisoformat(last) + timedelta(seconds=INTERVAL)
    assert again.run_due() == [] and len(upstream.log) == 1


def test_failures_back_off_exponentially_with_jitter_and_success_resets(
    vdb: VulnDb, upstream: Upstream, tmp_path: Path
) -> None:
    backoff = Backoff(base=60.0, cap=600.0)
    s = _scheduler(vdb, upstream, backoff=backoff)
    clock = _clock(vdb)
    waits = []
    for failures in range(1, 6):
        before = clock.now()
        (outcome,) = s.run_due()
        after = clock.now()
        assert outcome.status == "failed"  # nothing published: 404
        due = s.due_at("osv:PyPI")
        assert due is not None
        step = min(600.0, 60.0 * 2 ** (failures - 1))
        assert before + timedelta(seconds=step / 2) <= due <= after + timedelta(seconds=step)
        waits.append((due - after).total_seconds())
        assert s.run_due() == []  # not before the backoff ends
        clock.set(due)
    assert len({round(w, 3) for w in waits}) == len(waits)  # jittered, not a fixed ladder
    status = vdb.status()["sources"][0]
    assert status["lastError"] and status["lastSuccessAt"] is None and status["stale"]
    _publish(upstream, tmp_path, "v1", _record("PYSEC-1", "alpha"))
    before = clock.now()
    (ok,) = s.run_due()
    assert ok.status == "updated"
    due = s.due_at("osv:PyPI")
    interval = timedelta(seconds=INTERVAL)
    assert due is not None and before + interval <= due <= clock.now() + interval
    assert vdb.status()["sources"][0]["lastError"] is None


def test_backoff_bounds() -> None:
    b = Backoff(base=10.0, cap=100.0)
    rng = random.Random(1)
    for failures, step in [(1, 10.0), (2, 20.0), (3, 40.0), (4, 80.0), (5, 100.0), (9, 100.0)]:
        for _ in range(50):
            assert step / 2 <= b.delay(failures, rng) <= step


def test_no_sync_starts_while_one_runs_in_this_process(
    vdb: VulnDb, upstream: Upstream, tmp_path: Path
) -> None:
    _publish(upstream, tmp_path, "v1", _record("PYSEC-1", "alpha"))
    inner: list[list[SyncOutcome]] = []
    s: FeedScheduler

    def client() -> httpx.Client:  # called while the sync holds its lock
        inner.append(s.run_due())
        return httpx.Client(timeout=10)

    s = _scheduler(vdb, upstream, http=client)
    (outcome,) = s.run_due()
    assert outcome.status == "updated"
    assert inner == [[]]
    assert len(upstream.log) == 1


def test_the_database_lease_keeps_two_processes_from_overlapping(
    vdb: VulnDb, upstream: Upstream, tmp_path: Path
) -> None:
    _publish(upstream, tmp_path, "v1", _record("PYSEC-1", "alpha"))
    other = _scheduler(vdb, upstream, holder="other-host:1")
    inner: list[list[SyncOutcome]] = []

    def client() -> httpx.Client:  # `other` runs while this scheduler holds the lease
        inner.append(other.run_due())
        return httpx.Client(timeout=10)

    s = _scheduler(vdb, upstream, holder="this-host:1", http=client)
    (outcome,) = s.run_due()
    assert outcome.status == "updated" and inner == [[]]
    assert (other.due_at("osv:PyPI") or vdb.clock.now()) <= vdb.clock.now()  # still due
    (later,) = other.run_due()  # the lease was released at the end of the sync
    assert later.status == "unchanged"


def test_a_lease_left_by_a_killed_process_expires(
    vdb: VulnDb, upstream: Upstream, tmp_path: Path
) -> None:
    _publish(upstream, tmp_path, "v1", _record("PYSEC-1", "alpha"))
    assert vdb.acquire_sync_lease("killed-host:9", LEASE_TTL)
    s = _scheduler(vdb, upstream)
    assert s.run_due() == [] and upstream.log == []
    _clock(vdb).advance(LEASE_TTL + timedelta(seconds=1))
    (outcome,) = s.run_due()
    assert outcome.status == "updated"


def test_a_lease_left_by_a_process_of_this_host_that_is_gone_is_taken_at_once(
    vdb: VulnDb, upstream: Upstream, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A server killed in a sync left the lease: the next process on the host syncs at once
    rather than when the lease expires; a live holder still keeps it."""
    _publish(upstream, tmp_path, "v1", _record("PYSEC-1", "alpha"))
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    namespace = os.readlink("/proc/self/ns/pid").split("[")[1].rstrip("]")
    dead = f"{socket.gethostname()}:{ended.pid}:{namespace}"
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        alive = f"{socket.gethostname()}:{running.pid}:{namespace}"
        assert vdb.acquire_sync_lease(alive, LEASE_TTL)
        s = _scheduler(vdb, upstream)
        assert s.run_due() == [] and upstream.log == []
        vdb.release_sync_lease(alive)
    finally:
        running.kill()
        running.wait()
    assert vdb.acquire_sync_lease(dead, LEASE_TTL)
    with caplog.at_level(logging.WARNING, logger="dockwatch.vulndb.service"):
        (outcome,) = s.run_due()
    assert outcome.status == "updated"
    assert f"lease taken over from {dead}" in caplog.text
    assert vdb.sync_lease() is None  # released at the end of the sync


def test_stopping_ends_a_sync_before_its_next_feed_and_releases_the_lease(
    vdb: VulnDb, upstream: Upstream, tmp_path: Path
) -> None:
    _publish(upstream, tmp_path, "v1", _record("PYSEC-1", "alpha"))
    upstream.resources["/npm/all.zip"] = upstream.resources["/PyPI/all.zip"]
    policy = DownloadPolicy(max_attempts=1, tmp_root=tmp_path)
    feeds = [
        OsvFeed(eco, url=upstream.url(f"/{eco}/all.zip"), policy=policy) for eco in ("PyPI", "npm")
    ]
    scheduler: list[FeedScheduler] = []

    def stop_when_asked(request: httpx.Request) -> None:
        if request.url.path == "/PyPI/all.zip":
            scheduler[0].stop()  # as the process stopping would, during the first feed

    s = FeedScheduler(
        vdb,
        feeds,
        vdb.clock,
        interval=INTERVAL,
        http=lambda: httpx.Client(timeout=10, event_hooks={"request": [stop_when_asked]}),
        rng=random.Random(7),
    )
    scheduler.append(s)
    with pytest.raises(SyncStopped):
        s.run_due()
    assert vdb.sync_lease() is None
    with vdb.store.read() as uow:
        assert uow.vulns.source("osv:npm") is None  # never written
        pypi = uow.vulns.source("osv:PyPI")
    assert pypi is None or pypi.last_success_at is None  # stopped before it was written
    for thread in threading.enumerate():
        if thread.name.startswith("download "):
            thread.join(30)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("dockwatch-feed-")] == []


def test_a_sync_skipped_for_the_same_holder_is_logged_once(
    vdb: VulnDb, upstream: Upstream, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The scheduler polls every second: a lease held for 30 minutes was 1,800 log lines."""
    _publish(upstream, tmp_path, "v1", _record("PYSEC-1", "alpha"))
    s = _scheduler(vdb, upstream)
    with caplog.at_level(logging.INFO, logger="dockwatch.vulndb.scheduler"):
        assert vdb.acquire_sync_lease("other-host:1:1", LEASE_TTL)
        for _ in range(3):
            assert s.run_due() == []
        vdb.release_sync_lease("other-host:1:1")
        assert vdb.acquire_sync_lease("other-host:2:1", LEASE_TTL)
        for _ in range(2):
            assert s.run_due() == []
    told = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert [m.split(" until ")[0] for m in told] == [
        "feed sync skipped: other-host:1:1 holds the sync lease",
        "feed sync skipped: other-host:2:1 holds the sync lease",
    ]
