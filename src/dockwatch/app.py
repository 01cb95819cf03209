"""The composition root: Settings in, services out. No other module builds backends."""

from __future__ import annotations

import threading
from dataclasses import field, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from dockwatch.accounts.registry_tokens import RegistryTokens
from dockwatch.accounts.service import AccountService
from dockwatch.catalog.layers import Budgets
from dockwatch.catalog.stored_cache import StoredCatalogCache
from dockwatch.clock import Clock
from dockwatch.config import Settings
from dockwatch.errors import InvalidInput
from dockwatch.events.egress import EgressPolicy
from dockwatch.events.secretbox import SecretBox, load_key
from dockwatch.events.webhooks import WebhookDeliverer
from dockwatch.match.service import INDEX_FILE, MatchIndex
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
from dockwatch.storage.unit_of_work import Store
from dockwatch.store_root import open_store
from dockwatch.value_class import frozen
from dockwatch.vulndb.service import VulnDb

if TYPE_CHECKING:
    from dockwatch.vulndb.scheduler import FeedScheduler

DEFAULT_ACCOUNT_NAME = "default"
"""The name the configured account (`account_id`) gets when a start creates it."""


@frozen
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
    accounts: AccountService
    views: TenantViews = field(default_factory=lambda: TenantViews(), compare=False, repr=False)
    """The services of every other (account, region), built on first use (`for_tenant`)."""
    registry_tokens: RegistryTokens | None = None
    """ECR authorization tokens and /v2 bearer tokens (keyed by the data folder's server key)."""

    def for_tenant(self, tenant: Tenant) -> Services:
        """The services acting in `tenant` (see `TenantViews`); the default tenant's are these."""
        return self.views.get(tenant)

    def close(self) -> None:
        """Stop the scan worker and release database connections (call it on the services
        `build` returned: every tenant's view shares them)."""
        self.worker.stop()
        self.webhooks.stop()
        self.db.close()


class TenantViews:
    """One `Services` per (account, region), sharing everything that is not tenant-scoped.

    The database, store, blob store, clock, settings, layer cache, match index, scan worker and
    webhook deliverer are the root's; the registry context, registry, scan service and pull
    gate are bound to the tenant. Views are cached, so a tenant's scan service (its
    `settings_changed` flag) and pull gate (its event throttle) are the same on every request.
    """

    def __init__(self) -> None:
        self._root: Services | None = None
        self._views: dict[Tenant, Services] = {}
        self._lock = threading.Lock()

    def bind(self, root: Services) -> None:
        """Attach the default tenant's services (done once by `build`)."""
        self._root = root
        self._views[root.tenant] = root

    def get(self, tenant: Tenant) -> Services:
        """The cached view of `tenant`, built on first use."""
        with self._lock:
            found = self._views.get(tenant)
            if found is None:
                found = self._views[tenant] = self._build(tenant)
            return found

    def built(self) -> list[Tenant]:
        """The tenants whose views exist (the default one first)."""
        with self._lock:
            return list(self._views)

    def scanner(self, tenant: Tenant) -> ScanService:
        """The scan service of `tenant` (what the worker runs a job with)."""
        return self.get(tenant).scanner

    def _build(self, tenant: Tenant) -> Services:
        root = self._root
        if root is None:
            raise RuntimeError("tenant views are used before build() bound them")
        ctx = replace(root.registry.ctx, tenant=tenant)
        base = root.scanner
        scanner = ScanService(
            ctx, root.store, base.cache, base.index, root.clock,
            activation_days=base.activation_days, max_image_bytes=base.max_image_bytes,
            catalogers=base.catalogers, budgets=base.budgets,
        )  # fmt: skip
        gate = PullGate(
            root.store,
            root.clock,
            tenant,
            event_interval_seconds=root.settings.pull_refused_event_seconds,
        )
        return replace(root, tenant=tenant, registry=Registry(ctx), scanner=scanner, pull_gate=gate)


def services_for(services: Services, tenant: Tenant) -> Services:
    """The services acting in `tenant`: what an adapter calls once it knows the caller's
    (account, region). `services` is any view (`build`'s result or another tenant's)."""
    return services.for_tenant(tenant)


def build(settings: Settings, clock: Clock | None = None) -> Services:
    """Create (or open) the data folder, migrate the database, and wire the services."""
    base = open_store(settings, clock)
    clock, db, store, tenant = base.clock, base.db, base.store, base.tenant
    blobs = open_blob_store(settings.blob_url, settings.data_dir, settings.s3_addressing_style)
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
        ctx, store, cache, MatchIndex(store, cache_file=settings.data_dir / INDEX_FILE), clock, max_image_bytes=settings.scan_max_image_bytes,
        budgets=Budgets(uncompressed_bytes=settings.scan_max_uncompressed_bytes,
                        seconds=settings.scan_layer_seconds),
    )  # fmt: skip
    lease = timedelta(seconds=settings.job_lease_seconds)
    views = TenantViews()
    worker = ScanWorker(
        scanner, JobQueue(store, clock, lease), scanner_for=views.scanner, built=views.built
    )
    worker.delta_shards = settings.delta_shards
    worker.audit_purger.retention = timedelta(days=settings.audit_retention_days)
    worker.outbox_purger.retention = timedelta(days=settings.events_retention_days)
    server_key = load_key(settings.webhook_secret_key, settings.data_dir)
    box = SecretBox(server_key)
    webhooks = WebhookDeliverer(
        store,
        clock,
        box=box,
        egress=EgressPolicy.parse(settings.webhook_allow),
    )
    webhooks.seal_plaintext_secrets()
    pull_gate = PullGate(
        store, clock, tenant, event_interval_seconds=settings.pull_refused_event_seconds
    )
    accounts = AccountService(store, clock, box)  # access key secrets sealed like webhook ones
    accounts.ensure_account(settings.account_id, DEFAULT_ACCOUNT_NAME)
    services = Services(
        settings, clock, db, store, blobs, tenant, Registry(ctx), cache, scanner, worker, webhooks,
        pull_gate, accounts, views, RegistryTokens(server_key, clock),
    )  # fmt: skip
    views.bind(services)
    return services


def feed_scheduler(services: Services) -> FeedScheduler:
    """The scheduled feed syncs of `serve` (`start()` them; an interval of 0 never starts).
    It brings in every feed's module (60 ms of imports): `serve` makes it once it listens."""
    import httpx

    from dockwatch.vulndb.runner import configured_feeds, parse_url_overrides
    from dockwatch.vulndb.scheduler import FeedScheduler

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
