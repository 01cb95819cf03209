"""The composition root: Settings in, services out. No other module builds backends."""

from __future__ import annotations

from dataclasses import dataclass

from dockwatch.catalog.layers import Budgets
from dockwatch.clock import Clock, ControlledClock, SystemClock
from dockwatch.config import Settings
from dockwatch.errors import InvalidInput
from dockwatch.events.webhooks import WebhookDeliverer
from dockwatch.match.service import MatchIndex
from dockwatch.model.identity import Tenant
from dockwatch.registry.context import RegistryContext
from dockwatch.registry.service import Registry
from dockwatch.scan.jobs import JobQueue
from dockwatch.scan.service import ScanService
from dockwatch.scan.worker import ScanWorker
from dockwatch.storage.blobs.filesystem import FilesystemBlobStore
from dockwatch.storage.sql.catalog_repo import SqlCatalogCache
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate


@dataclass(frozen=True, slots=True)
class Services:
    """Everything built for one data folder."""

    settings: Settings
    clock: Clock
    db: Database
    blobs: FilesystemBlobStore
    tenant: Tenant
    registry: Registry
    catalog_cache: SqlCatalogCache
    scanner: ScanService
    worker: ScanWorker
    webhooks: WebhookDeliverer

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
    db = Database(settings.sqlalchemy_url)
    migrate(db)
    blobs = FilesystemBlobStore(settings.data_dir)
    tenant = Tenant(settings.account_id, settings.region)
    ctx = RegistryContext(
        db=db,
        blobs=blobs,
        clock=clock,
        tenant=tenant,
        max_manifest_bytes=settings.max_manifest_bytes,
        upload_expiry_seconds=settings.upload_expiry_seconds,
        pull_record_seconds=settings.pull_record_seconds,
    )
    cache = SqlCatalogCache(db, clock)
    scanner = ScanService(
        ctx, cache, MatchIndex(db), clock, max_image_bytes=settings.scan_max_image_bytes,
        budgets=Budgets(uncompressed_bytes=settings.scan_max_uncompressed_bytes,
                        seconds=settings.scan_layer_seconds),
    )  # fmt: skip
    worker = ScanWorker(scanner, JobQueue(db, clock))
    webhooks = WebhookDeliverer(db, clock)
    return Services(
        settings, clock, db, blobs, tenant, Registry(ctx), cache, scanner, worker, webhooks
    )
