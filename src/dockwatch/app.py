"""The composition root: Settings in, services out. No other module builds backends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from dockwatch.catalog.layers import Budgets
from dockwatch.catalog.stored_cache import StoredCatalogCache
from dockwatch.clock import Clock, ControlledClock, SystemClock
from dockwatch.config import Settings
from dockwatch.errors import InvalidInput
from dockwatch.events.egress import EgressPolicy
from dockwatch.events.secretbox import SecretBox, load_key
from dockwatch.events.webhooks import WebhookDeliverer
from dockwatch.match.service import MatchIndex
from dockwatch.model.identity import Tenant
from dockwatch.pullpolicy.gate import PullGate
from dockwatch.registry.context import RegistryContext
from dockwatch.registry.service import Registry
from dockwatch.scan.jobs import JobQueue
from dockwatch.scan.service import ScanService
from dockwatch.scan.worker import ScanWorker
from dockwatch.storage.blobs import open_blob_store
from dockwatch.storage.blobs.blobstore import BlobStore
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.storage.unit_of_work import Store
from dockwatch.vulndb.scheduler import FeedScheduler
from dockwatch.vulndb.service import VulnDb


@dataclass(frozen=True, slots=True)
class Services:
    """Everything built for one data folder."""

    settings: Settings
    clock: Clock
    db: Database
    store: Store
    blobs: BlobStore
    tenant: Tenant
    registry: Registry
    catalog_cache: StoredCatalogCache
    scanner: ScanService
    worker: ScanWorker
    webhooks: WebhookDeliverer
    pull_gate: PullGate

    def close(self) -> None:
        """Stop the scan worker and release database connections."""
        self.worker.stop()
        self.webhooks.stop()
        self.db.close()


def build(settings: Settings, clock: Clock | None = None) -> Services:
    """Create (or open) the data folder, migrate the database, and wire the services."""
    errors = settings.validate()
    if errors:
        raise InvalidInput("; ".join(errors))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if clock is None:
        clock = ControlledClock() if settings.test_mode else SystemClock()
    db = Database(settings.effective_database_url)
    if settings.migrate_at_start:
        migrate(db)
    blobs = open_blob_store(settings.blob_url, settings.data_dir, settings.s3_addressing_style)
    tenant = Tenant(settings.account_id, settings.region)
    store = SqlStore(db)
    ctx = RegistryContext(
        store=store,
        blobs=blobs,
        clock=clock,
        tenant=tenant,
        max_manifest_bytes=settings.max_manifest_bytes,
        upload_expiry_seconds=settings.upload_expiry_seconds,
        pull_record_seconds=settings.pull_record_seconds,
    )
    cache = StoredCatalogCache(store, clock)
    scanner = ScanService(
        ctx, store, cache, MatchIndex(store), clock, max_image_bytes=settings.scan_max_image_bytes,
        budgets=Budgets(uncompressed_bytes=settings.scan_max_uncompressed_bytes,
                        seconds=settings.scan_layer_seconds),
    )  # fmt: skip
    worker = ScanWorker(scanner, JobQueue(store, clock))
    worker.audit_purger.retention = timedelta(days=settings.audit_retention_days)
    webhooks = WebhookDeliverer(
        store,
        clock,
        box=SecretBox(load_key(settings.webhook_secret_key, settings.data_dir)),
        egress=EgressPolicy.parse(settings.webhook_allow),
    )
    webhooks.seal_plaintext_secrets()
    pull_gate = PullGate(
        store, clock, tenant, event_interval_seconds=settings.pull_refused_event_seconds
    )
    return Services(
        settings, clock, db, store, blobs, tenant, Registry(ctx), cache, scanner, worker, webhooks,
        pull_gate,
    )  # fmt: skip


def migrate_database(settings: Settings) -> str:
    """Bring the database up to the current schema (`dockwatch migrate`); returns its URL
    without the password, for messages."""
    errors = settings.validate()
    if errors:
        raise InvalidInput("; ".join(errors))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url)
    try:
        migrate(db)
    finally:
        db.close()
    return str(db.engine.url.render_as_string(hide_password=True))


def feed_scheduler(services: Services) -> FeedScheduler:
    """The scheduled feed syncs of `serve` (`start()` them; an interval of 0 never starts)."""
    import httpx

    from dockwatch.vulndb.runner import configured_feeds, parse_url_overrides

    settings = services.settings
    names = [n.strip() for n in (settings.feeds or "").split(",") if n.strip()]
    feeds = configured_feeds(parse_url_overrides(settings.feed_urls), names)
    unknown = sorted(set(names) - {f.name for f in feeds})
    if unknown:
        raise InvalidInput(f"DOCKWATCH_FEEDS names unknown feeds: {', '.join(unknown)}")
    vdb = VulnDb(services.store, services.clock, services.tenant.account_id, services.tenant.region)
    return FeedScheduler(
        vdb,
        feeds,
        services.clock,
        interval=settings.sync_interval,
        http=lambda: httpx.Client(timeout=60, follow_redirects=True),
    )
