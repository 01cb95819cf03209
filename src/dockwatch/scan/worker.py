"""The scan worker: outbox events in, jobs out, jobs run. Embedded mode runs it in a thread.

It reads the outbox after its own cursor and, in the same transaction that moves the cursor,
queues the jobs each event calls for, so an event is never lost nor handled twice: a push in a
repository that is scanned queues a scan; an advisory update queues the application of its
delta (scan/rescan.py: exactly the images of continuously scanned repositories that hold an
affected package, in one batch); a delete closes the image's findings. Then it runs queued jobs one by one.

Every event and job belongs to a tenant (account, region): an event is judged with its tenant's
scanning configuration, a job runs with its tenant's scan service (`scanner_for`), an advisory
delta is applied to every tenant with data, and the periodic passes run for each of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from dockwatch.audit.log import AuditPurger
from dockwatch.clock import due
from dockwatch.findings.purge import Purger
from dockwatch.findings.suppression import expire_due_rules
from dockwatch.model.events import (
    AdvisoriesChanged,
    ManifestDeleted,
    ManifestPushed,
    OutboxEvent,
)
from dockwatch.model.identity import Tenant
from dockwatch.registry.lifecycle.expire import expire_pass as lifecycle_pass
from dockwatch.registry.manifests import Manifests
from dockwatch.storage.scan_repo import ScanState
from dockwatch.storage.unit_of_work import UnitOfWork, WorkWaiter

from .config import RegistryScanningConfiguration, ScanFrequency, ScanType
from .coverage_state import record_state
from .eligibility import MANUAL_REASON, expire_pass, is_image, not_covered, recatalogue_pass
from .jobs import (
    ApplyDelta,
    ClaimedJob,
    DeleteImage,
    Job,
    JobQueue,
    Recatalogue,
    RematchImage,
    ScanImage,
    enqueue,
)
from .outbox_retention import OutboxPurger
from .rescan import apply_delta
from .service import ScanService

logger = logging.getLogger(__name__)

CURSOR = "scanner"
PASS_INTERVAL = timedelta(minutes=1)
IDLE_POLL_SECONDS = 1.0
"""With a work waiter that hears every process (PostgreSQL NOTIFY), how long an idle worker
waits before polling anyway. SQLite's waiter hears this process only: there the worker still
polls every `interval`, for work that another process queued."""
SUBSCRIBED = (ManifestPushed.NAME, ManifestDeleted.NAME, AdvisoriesChanged.NAME)
"""The outbox events the scan worker acts on."""


class ScanWorker:
    """Turns events into jobs and runs them."""

    def __init__(
        self,
        service: ScanService,
        queue: JobQueue,
        scanner_for: Callable[[Tenant], ScanService] | None = None,
        built: Callable[[], list[Tenant]] | None = None,
    ) -> None:
        self.service = service
        """The default tenant's scan service."""
        self.queue = queue
        self._scanner_for = scanner_for
        self._built = built
        """The tenants whose scan services exist (checked for saved configurations)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waiter: WorkWaiter | None = None
        self.purger = Purger()
        self.audit_purger = AuditPurger(service.ctx.tenant)
        self.outbox_purger = OutboxPurger()
        self._purgers: dict[Tenant, tuple[Purger, AuditPurger]] = {
            service.tenant: (self.purger, self.audit_purger)
        }
        self._last_pass: datetime | None = None
        self.delta_shards = 1
        """Jobs an advisory update's rescan is split into (`Settings.delta_shards`)."""
        self._last_optimize: datetime | None = None
        self.ready = threading.Event()
        """Set once the advisory index is loaded (reported by /healthz)."""

    def scanner_for(self, tenant: Tenant | None) -> ScanService:
        """The scan service of `tenant` (None, or no resolver: the default tenant's)."""
        if tenant is None or tenant == self.service.tenant or self._scanner_for is None:
            return self.service
        return self._scanner_for(tenant)

    def tenants(self) -> list[Tenant]:
        """The default tenant and every tenant with a repository or a configuration."""
        with self.service.store.read() as uow:
            return self._tenants_in(uow)

    def _tenants_in(self, uow: UnitOfWork) -> list[Tenant]:
        if self._scanner_for is None:
            return [self.service.tenant]
        stored = uow.tenancy.tenants()
        return [self.service.tenant, *(t for t in stored if t != self.service.tenant)]

    def dispatch(self) -> int:
        """Queue the jobs for outbox events not seen yet; returns how many events were read."""
        configs: dict[Tenant, RegistryScanningConfiguration] = {}

        def config_of(tenant: Tenant) -> RegistryScanningConfiguration:
            """The tenant's configuration, read in the dispatch's own transaction."""
            if tenant not in configs:
                configs[tenant] = self.scanner_for(tenant)._settings(uow)[0]
            return configs[tenant]

        with self.service.store.write() as uow:
            if not uow.outbox.hold_cursor(CURSOR):
                return 0  # another process of the cluster is dispatching these events
            after = uow.outbox.cursor(CURSOR)
            events = uow.outbox.read_after(after, SUBSCRIBED)
            now = self.service.clock.now()
            for e in events:
                event = e.event
                if isinstance(event, ManifestPushed):
                    self._pushed(uow, e, event, config_of(event.tenant), now)
                elif isinstance(event, ManifestDeleted):
                    job = DeleteImage(event.repository_name, event.image_digest, event.tenant)
                    enqueue(uow.jobs, job, f"delete:{e.id}", now)
                elif isinstance(event, AdvisoriesChanged) and any(
                    config_of(t).scan_type is ScanType.ENHANCED for t in self._tenants_in(uow)
                ):
                    # one job per database version (and shard): the job finds the affected
                    # images through the reverse index when it runs
                    delta = ApplyDelta.from_document(event.payload())
                    for part in delta.split(self.delta_shards):
                        enqueue(uow.jobs, part, part.key, now)
            if events:
                uow.outbox.advance(CURSOR, events[-1].id, now)
        return len(events)

    def _pushed(
        self,
        uow: UnitOfWork,
        e: OutboxEvent,
        event: ManifestPushed,
        config: RegistryScanningConfiguration,
        now: datetime,
    ) -> None:
        """Queue the scan a push calls for (and mark a new image PENDING_INITIAL_SCAN)."""
        tenant = event.tenant
        repo = uow.registry.get_repository(tenant, event.repository_name)
        if repo is None:
            return
        frequency = config.frequency_for(repo.name, repo.scan_on_push)
        digest = event.image_digest
        enhanced_image = config.scan_type is ScanType.ENHANCED and is_image(
            event.media_type or "", event.artifact_type
        )
        if frequency is ScanFrequency.MANUAL:
            if enhanced_image:  # covered as not scanned: coverage lists every image
                state = uow.scans.get_scan(repo.id, digest)
                if state is None or (state.status_code, state.reason) != (
                    "INACTIVE",
                    MANUAL_REASON,
                ):
                    record_state(uow, tenant, not_covered(repo.id, digest, state), now)
            return
        # a push older than the activation window (read late, e.g. right after enhanced
        # scanning was turned on) is not eligible: activation decides it
        if now - e.created_at > timedelta(days=self.service.activation_days):
            return
        enqueue(uow.jobs, ScanImage(repo.name, digest, tenant), f"push:{e.id}", now)
        if not enhanced_image:
            return
        state = uow.scans.get_scan(repo.id, digest)
        if state is None or state.status_code == "INACTIVE":
            # a new image, or one not monitored (expired, ...): monitoring starts with this
            # push; a re-push or re-tag of a monitored image leaves its start where it is
            started = event.pushed_at or e.created_at
            pending = ScanState(
                repo.id, digest, "ENHANCED", "ACTIVE", "PENDING_INITIAL_SCAN", None, 0, None,
                None, last_activated_at=started,
            )  # fmt: skip
            record_state(uow, tenant, pending, now)

    def handle(self, job: Job) -> None:
        """Run one job with its tenant's scan service: each kind has its handler."""
        match job:
            case ScanImage() | Recatalogue():
                self.scanner_for(job.tenant).scan(job.repository, job.digest)
            case RematchImage():
                self.scanner_for(job.tenant).scan(job.repository, job.digest, rematch=True)
            case ApplyDelta():  # advisories are global: every tenant's affected images
                for tenant in self.tenants():
                    apply_delta(self.scanner_for(tenant), job)
            case DeleteImage():
                self.scanner_for(job.tenant).close_image(job.repository, job.digest)

    def run_one(self) -> ClaimedJob | None:
        """Claim and run one job; returns it (None when the queue is empty)."""
        claimed = self.queue.claim()
        if claimed is None:
            return None
        try:
            with self.queue.heartbeat(claimed):
                self.handle(claimed.job)
        except Exception as exc:  # a failing job is recorded and retried, never kills the worker
            logger.exception("job %s (%s) failed", claimed.id, claimed.job.kind)
            self.queue.finish(claimed, f"{type(exc).__name__}: {exc}")
            return claimed
        self.queue.finish(claimed)
        return claimed

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
        """Run in a daemon thread until `stop`. Idle, it waits on the store's work waiter: woken
        at once when work is committed (a push's event, a queued job), by any process on
        PostgreSQL (polling every IDLE_POLL_SECONDS) and by this process on SQLite (polling
        every `interval` for the others)."""
        self.queue.recover()
        waiter = self._waiter = self.service.store.work_waiter()
        poll = interval if self.service.store.dialect == "sqlite" else IDLE_POLL_SECONDS

        def loop() -> None:
            try:  # load the advisory index before the first push needs it
                self.service.index.refresh()
            except Exception:
                logger.exception("could not load the advisory index; it will be retried on use")
            try:  # and the cataloguers, which the service loads on first use
                self.service.catalogers  # noqa: B018 - the property loads them
            except Exception:
                logger.exception("could not load the cataloguers; they will be retried on use")
            self.ready.set()
            try:
                for tenant in self.tenants():
                    recatalogue_pass(self.scanner_for(tenant))
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
                if waiter is None:
                    self._stop.wait(interval)
                elif not self._stop.is_set():
                    waiter.wait(max(interval, poll))
            if waiter is not None:
                waiter.close()

        self._thread = threading.Thread(target=loop, name="scan-worker", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """Started in this process and not stopped (`serve --no-worker` never starts it)."""
        return self._thread is not None and self._thread.is_alive()

    def periodic(self) -> None:
        """The periodic passes (expiry, suppression rule expiry, purge, planner statistics),
        run when the injected clock has moved a minute since the last run: at most once a
        minute on a real clock, at once after a test moves the clock ahead. Expiry is not
        computed on read, and at 10,000 images one pass costs ~50 ms, too much every 0.2 s."""
        now = self.service.clock.now()
        if not due(
            self._last_pass, now, PASS_INTERVAL
        ):  # a configuration saved since: only a tenant whose services exist can have
            built = self._built() if self._built is not None else [self.service.tenant]
            if not any(self.scanner_for(t).settings_changed.is_set() for t in built):
                return
        scanners = [self.scanner_for(t) for t in self.tenants()]
        self._last_pass = now
        for scanner in scanners:
            scanner.settings_changed.clear()
            self._passes(scanner, now)
        if due(self._last_optimize, now, timedelta(hours=1)):
            self._last_optimize = now
            self.service.store.optimize()
        with self.service.store.singleton("outbox-purge") as held:  # the outbox is shared
            if held:
                self.outbox_purger.run_if_due(self.service.store, now)

    def _passes(self, scanner: ScanService, now: datetime) -> None:
        """One tenant's periodic passes: expiry, rule expiry, finding and audit purges."""
        tenant = scanner.tenant
        if tenant not in self._purgers:
            audit = AuditPurger(tenant, retention=self.audit_purger.retention)
            self._purgers[tenant] = (Purger(), audit)
        purger, audit_purger = self._purgers[tenant]
        store = scanner.store
        scope = f"{tenant.account_id}:{tenant.region}"
        with store.singleton(f"scan-expiry:{scope}") as held:  # one process of a cluster at a time
            if held:
                expire_pass(scanner)
        with store.singleton(f"lifecycle:{scope}") as held:
            if held:
                ctx = scanner.ctx
                lifecycle_pass(ctx, Manifests(ctx))
        with store.singleton(f"rule-expiry:{scope}") as held:
            if held:
                expire_due_rules(store, tenant, now)
        with store.singleton(f"finding-purge:{scope}") as held:
            if held:
                purger.run_if_due(store, tenant, now)
        with store.singleton(f"audit-purge:{scope}") as held:
            if held:
                audit_purger.run_if_due(store, now)

    def stop(self) -> None:
        """Ask the thread to finish and wait for it."""
        self._stop.set()
        wake = getattr(self._waiter, "notify", None)  # an in-process waiter returns at once
        if wake is not None:
            wake()
        if self._thread is not None:
            self._thread.join(timeout=30)
