"""Scheduled feed syncs: `dockwatch serve` keeps its vulnerability database current by itself.

Every configured feed is synced at start when the database is empty, then each one `interval`
after its last successful sync (a restart resumes the schedule from the stored times instead of
fetching everything again). A failed feed is retried after an exponential backoff with jitter,
never later than the interval. Syncs never overlap: an in-process lock, and the database lease
that `dockwatch db sync` takes too. A sync goes through `runner.sync`, so requests are
conditional and an update writes the same delta and `AdvisoriesChanged` event as `db import`
(the scan worker rescans from those).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import httpx

from dockwatch.clock import Clock
from dockwatch.feeds.feed import Feed
from dockwatch.value_class import frozen

from .runner import SyncOutcome, sync
from .service import VulnDb
from .sync_lease import holder_name

logger = logging.getLogger(__name__)

LEASE_TTL = timedelta(minutes=30)
"""How long a sync may hold the lease without renewing it (renewed before every feed)."""


@frozen
class Backoff:
    """Exponential backoff with "equal jitter": half the step fixed, half random."""

    base: float = 60.0
    """Seconds before the first retry (before jitter)."""
    cap: float = 3600.0
    """The longest wait (before jitter)."""

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after `failures` consecutive failures (1 or more)."""
        step = min(self.cap, self.base * 2.0 ** max(0, failures - 1))
        return step / 2 + rng.random() * step / 2


class SyncStopped(Exception):
    """The scheduler was stopped while a sync ran: the sync ends before its next feed."""


class FeedScheduler:
    """Runs due feed syncs; `start()` does so on a thread until `stop()`."""

    def __init__(
        self,
        vdb: VulnDb,
        feeds: Sequence[Feed],
        clock: Clock,
        *,
        interval: float,
        http: Callable[[], httpx.Client],
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        holder: str | None = None,
        poll_seconds: float = 1.0,
    ) -> None:
        self.vdb = vdb
        self.feeds = list(feeds)
        self.clock = clock
        self.interval = timedelta(seconds=interval)
        self.http = http
        self.backoff = backoff or Backoff(cap=max(60.0, min(3600.0, interval)))
        self.rng = rng or random.Random()
        self.holder = holder or holder_name()
        self.poll_seconds = poll_seconds
        self._running = threading.Lock()
        self._due: dict[str, datetime] = {}
        self._failures: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._told: str | None = None  # the other holder last logged as holding the lease

    def due_at(self, feed: str) -> datetime | None:
        """When `feed` is next synced (None before `plan`)."""
        return self._due.get(feed)

    def plan(self) -> None:
        """Set the first due times: everything now on an empty database, otherwise one interval
        after each feed's last success (now for a feed never synced)."""
        now = self.clock.now()
        if self.vdb.is_empty():
            self._due = {f.name: now for f in self.feeds}
            return
        with self.vdb.store.read() as uow:
            last = {s.name: s.last_success_at for s in uow.vulns.sources()}
        self._due = {}
        for f in self.feeds:
            succeeded = last.get(f.name)
            self._due[f.name] = now if succeeded is None else succeeded + self.interval

    def run_due(self) -> list[SyncOutcome]:
        """Sync the feeds that are due; nothing when a sync is already running (here or in
        another process), in which case they stay due and are tried at the next poll."""
        if not self._due:
            self.plan()
        now = self.clock.now()
        due = [f for f in self.feeds if self._due[f.name] <= now]
        if not due or not self._running.acquire(blocking=False):
            return []
        try:
            if not self.vdb.acquire_sync_lease(self.holder, LEASE_TTL):
                self._skipped()
                return []
            self._told = None
            try:
                with self.http() as client:
                    outcomes = sync(self.vdb, due, client, renew=self._renew)
            finally:
                self.vdb.release_sync_lease(self.holder)
        finally:
            self._running.release()
        self._schedule(outcomes)
        return outcomes

    def _skipped(self) -> None:
        """Say once per holder (not at every poll) that another process holds the lease."""
        held = self.vdb.sync_lease()
        other = held[0] if held is not None else "?"
        if other == self._told:
            logger.debug("feed sync skipped: %s holds the sync lease", other)
            return
        self._told = other
        until = f" until {held[1].isoformat()}" if held is not None else ""
        logger.info("feed sync skipped: %s holds the sync lease%s", other, until)

    def _renew(self) -> None:
        """Before each feed: keep the lease, or end the sync if `stop()` was called."""
        if self._stop.is_set():
            raise SyncStopped
        self.vdb.acquire_sync_lease(self.holder, LEASE_TTL)

    def _schedule(self, outcomes: Sequence[SyncOutcome]) -> None:
        after = self.clock.now()
        for o in outcomes:
            if o.status == "failed":
                failures = self._failures.get(o.feed, 0) + 1
                self._failures[o.feed] = failures
                wait = self.backoff.delay(failures, self.rng)
                self._due[o.feed] = after + timedelta(seconds=wait)
                logger.warning(
                    "feed %s failed (%d in a row), retry in %.0f s", o.feed, failures, wait
                )
            else:
                self._failures.pop(o.feed, None)
                self._due[o.feed] = after + self.interval

    def start(self) -> None:
        """Run due syncs on a daemon thread until `stop()`."""
        if self._thread is not None or self.interval <= timedelta(0) or not self.feeds:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="feed-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop; a sync in progress ends before its next feed (the feeds it has not written
        stay due), and gives the lease back."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
            except SyncStopped:
                logger.info("scheduled feed sync stopped: the process is stopping")
            except Exception:  # a database hiccup must not end scheduled syncs for good
                logger.exception("scheduled feed sync failed")
            self._stop.wait(self.poll_seconds)
