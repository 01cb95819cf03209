"""The scan worker: outbox events in, jobs out, jobs run. Embedded mode runs it in a thread.

It reads the outbox after its own cursor and, in the same transaction that moves the cursor,
queues the jobs each event calls for, so an event is never lost nor handled twice: a push in a
repository that is scanned queues a scan; an advisory update queues the application of its
delta (scan/rescan.py: exactly the images of continuously scanned repositories that hold an
affected package, in one batch); a delete closes the image's findings. Then it runs queued jobs one by one.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from dockwatch.findings.purge import Purger
from dockwatch.findings.suppression import expire_due_rules
from dockwatch.model.oci import INDEX_TYPES
from dockwatch.registry.events import RegistryEvent
from dockwatch.storage.sql import outbox
from dockwatch.storage.sql import registry_repo as registry_sql
from dockwatch.storage.sql import scan_repo as sql
from dockwatch.vulndb.service import ADVISORIES_CHANGED

from .config import ScanFrequency, ScanType
from .eligibility import expire_pass, recatalogue_pass
from .jobs import Job, JobQueue, enqueue
from .rescan import apply_delta
from .service import ScanService

logger = logging.getLogger(__name__)

CURSOR = "scanner"
PASS_INTERVAL = timedelta(minutes=1)
SUBSCRIBED = (RegistryEvent.MANIFEST_PUSHED, RegistryEvent.MANIFEST_DELETED, ADVISORIES_CHANGED)
"""The outbox events the scan worker acts on."""


class ScanWorker:
    """Turns events into jobs and runs them."""

    def __init__(self, service: ScanService, queue: JobQueue) -> None:
        self.service = service
        self.queue = queue
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.purger = Purger()
        self._last_pass: datetime | None = None
        self._last_optimize: datetime | None = None
        self.ready = threading.Event()
        """Set once the advisory index is loaded (reported by /healthz)."""

    def dispatch(self) -> int:
        """Queue the jobs for outbox events not seen yet; returns how many events were read."""
        ctx = self.service.ctx
        config, _ = self.service.settings()
        with self.service.db.write() as conn:
            after = outbox.cursor(conn, CURSOR)
            events = outbox.read_after(conn, after, SUBSCRIBED)
            now = self.service.clock.now()
            for e in events:
                if e.event_type == RegistryEvent.MANIFEST_PUSHED:
                    repo = registry_sql.get_repository(
                        conn, ctx.tenant, e.payload["repositoryName"]
                    )
                    if repo is None:
                        continue
                    frequency = config.frequency_for(repo.name, repo.scan_on_push)
                    # a push older than the activation window (read late, e.g. right after
                    # enhanced scanning was turned on) is not eligible: activation decides it
                    stale = now - e.created_at > timedelta(days=self.service.activation_days)
                    if frequency is not ScanFrequency.MANUAL and not stale:
                        digest = e.payload["imageDigest"]
                        enqueue(
                            conn,
                            "scan",
                            f"push:{e.id}",
                            {"repository": repo.name, "digest": digest},
                            now,
                        )
                        image_like = e.payload.get(
                            "mediaType"
                        ) not in INDEX_TYPES and not e.payload.get("artifactType")
                        if (
                            config.scan_type is ScanType.ENHANCED
                            and image_like
                            and sql.get_scan(conn, repo.id, digest) is None
                        ):
                            pending = sql.ScanState(
                                repo.id,
                                digest,
                                "ENHANCED",
                                "ACTIVE",
                                "PENDING_INITIAL_SCAN",
                                None,
                                0,
                                None,
                                None,
                            )
                            sql.put_scan(conn, ctx.tenant, pending, now)
                elif e.event_type == RegistryEvent.MANIFEST_DELETED:
                    enqueue(
                        conn,
                        "delete",
                        f"delete:{e.id}",
                        {
                            "repository": e.payload["repositoryName"],
                            "digest": e.payload["imageDigest"],
                        },
                        now,
                    )
                elif e.event_type == ADVISORIES_CHANGED and config.scan_type is ScanType.ENHANCED:
                    self._affected(conn, e.payload, config, now)
            if events:
                outbox.advance(conn, CURSOR, events[-1].id, now)
        return len(events)

    def _affected(self, conn: Any, payload: dict[str, Any], config: Any, now: datetime) -> None:
        """Queue the application of an advisory delta (one job per database version: the
        job finds the affected images through the reverse index when it runs)."""
        del config
        enqueue(
            conn,
            "delta",
            f"delta:{payload.get('version')}:{payload.get('source')}",
            {
                k: payload.get(k)
                for k in (
                    "version",
                    "source",
                    "added",
                    "modified",
                    "withdrawn",
                    "packageKeys",
                    "cves",
                )
            },
            now,
        )

    def run_one(self) -> Job | None:
        """Claim and run one job; returns it (None when the queue is empty)."""
        job = self.queue.claim()
        if job is None:
            return None
        try:
            if job.kind == "scan":
                self.service.scan(job.payload["repository"], job.payload["digest"])
            elif job.kind == "rematch":
                self.service.scan(job.payload["repository"], job.payload["digest"], rematch=True)
            elif job.kind == "delta":
                apply_delta(self.service, job.payload)
            elif job.kind == "delete":
                self.service.close_image(
                    job.payload["repository"], job.payload["digest"], "deleted"
                )
        except Exception as exc:  # a failing job is recorded and retried, never kills the worker
            logger.exception("job %s (%s) failed", job.id, job.kind)
            self.queue.finish(job, f"{type(exc).__name__}: {exc}")
            return job
        self.queue.finish(job)
        return job

    def drain(self) -> int:
        """Dispatch and run until nothing is left (tests and one-shot use); returns jobs run."""
        ran = 0
        while True:
            self.dispatch()
            if self.run_one() is None:
                if self.dispatch() == 0:
                    return ran
                continue
            ran += 1

    def start(self, interval: float = 0.2) -> None:
        """Run in a daemon thread until `stop`."""
        self.queue.recover()

        def loop() -> None:
            try:  # load the advisory index before the first push needs it
                self.service.index.refresh()
            except Exception:
                logger.exception("could not load the advisory index; it will be retried on use")
            self.ready.set()
            try:
                recatalogue_pass(self.service)
            except Exception:
                logger.exception("could not queue re-cataloguing after a cataloger change")
            while not self._stop.is_set():
                try:
                    self.dispatch()
                    while not self._stop.is_set() and self.run_one() is not None:
                        self.dispatch()
                    self.periodic()
                except Exception:  # keep serving; the next round retries
                    logger.exception("scan worker round failed")
                self._stop.wait(interval)

        self._thread = threading.Thread(target=loop, name="scan-worker", daemon=True)
        self._thread.start()

    def periodic(self) -> None:
        """The periodic passes (expiry, suppression rule expiry, purge, planner statistics),
        run when the injected clock has moved a minute since the last run: at most once a
        minute on a real clock, at once after a test moves the clock ahead. Expiry is not
        computed on read, and at 10,000 images one pass costs ~50 ms, too much every 0.2 s."""
        now = self.service.clock.now()
        due = self._last_pass is None or not timedelta(0) <= now - self._last_pass < PASS_INTERVAL
        if not due and not self.service.settings_changed.is_set():
            return
        self.service.settings_changed.clear()
        self._last_pass = now
        ctx = self.service.ctx
        expire_pass(self.service)
        expire_due_rules(self.service.db, ctx.tenant, now)
        self.purger.run_if_due(self.service.db, ctx.tenant, now)
        if self._last_optimize is None or not (
            timedelta(0) <= now - self._last_optimize < timedelta(hours=1)
        ):
            self._last_optimize = now
            self.service.db.optimize()

    def stop(self) -> None:
        """Ask the thread to finish and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
