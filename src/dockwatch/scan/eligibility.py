"""Who stays monitored: activation, deactivation and the periodic expiry pass.

Activation (BASIC -> ENHANCED) queues a scan of every image pushed within the activation window
in a repository the rules scan; older images are covered as INACTIVE / SCAN_ELIGIBILITY_EXPIRED
until pushed again. Deactivation closes enhanced findings and removes enhanced coverage. The
expiry pass (run by the worker, never computed on read) turns images of continuously scanned
repositories past their re-scan duration INACTIVE, closes their findings and writes a
`CoverageChanged` event (through `coverage_state`); a re-push scans them again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from datetime import datetime, timedelta

from dockwatch.storage.scan_repo import ScanState
from dockwatch.storage.unit_of_work import UnitOfWork

from .config import RegistryScanningConfiguration, ScanFrequency, ScanType
from .coverage_state import forget_state, record_state
from .environment import ScanEnvironment
from .jobs import Recatalogue, ScanImage, enqueue

logger = logging.getLogger(__name__)


def activate(
    env: ScanEnvironment, uow: UnitOfWork, config: RegistryScanningConfiguration, now: datetime
) -> None:
    """Queue scans of recent images; mark older ones expired."""
    window = now - timedelta(days=env.activation_days)
    for pushed in uow.scans.pushed_images(env.tenant):
        image = pushed.image
        if config.frequency_for(image.repository, image.scan_on_push) is ScanFrequency.MANUAL:
            continue
        if pushed.last_pushed_at >= window:
            key = f"activate:{image.repository_id}:{image.digest}:{now.isoformat()}"
            enqueue(uow.jobs, ScanImage(image.repository, image.digest), key, now)
        else:
            state = ScanState(
                image.repository_id, image.digest, "ENHANCED", "INACTIVE",
                "SCAN_ELIGIBILITY_EXPIRED", None, 0, None, None,
            )  # fmt: skip
            record_state(uow, env.tenant, state, now)


def deactivate(env: ScanEnvironment, uow: UnitOfWork, now: datetime) -> None:
    """Close enhanced findings and remove enhanced coverage."""
    images = uow.scans.enhanced_images(env.tenant)
    env.writer.close_all(uow, [(x.repository_id, x.repository, x.digest) for x in images], now)
    for x in images:
        forget_state(uow, env.tenant, x.repository_id, x.digest, now, "PENDING_DISABLE")


def expire_pass(env: ScanEnvironment) -> int:
    """Expire images past the re-scan duration; returns how many."""
    config, ecr = env.settings()
    if config.scan_type is not ScanType.ENHANCED:
        return 0
    tenant = env.tenant
    now = env.clock.now()
    expired = 0
    with env.store.write() as uow:
        for pushed in uow.scans.active_pushed_images(tenant):
            x = pushed.image
            if (
                config.frequency_for(x.repository, x.scan_on_push)
                is not ScanFrequency.CONTINUOUS_SCAN
            ):
                continue
            if not ecr.expired(pushed.last_pushed_at, pushed.last_pulled_at, now):
                continue
            state = uow.scans.get_scan(x.repository_id, x.digest)
            assert state is not None
            record_state(
                uow,
                tenant,
                dataclasses.replace(
                    state, status_code="INACTIVE", reason="SCAN_ELIGIBILITY_EXPIRED"
                ),
                now,
            )
            env.writer.close_all(uow, [(x.repository_id, x.repository, x.digest)], now)
            expired += 1
    return expired


def recatalogue_pass(env: ScanEnvironment) -> int:
    """Queue a re-catalogue of every monitored image whose inventory was made by other
    cataloger versions (a cataloger was bumped or added by an upgrade): the layer cache misses
    only for the changed catalogers, so only the layers they cover are read again, and the
    images are re-matched with what they now find. Returns how many were queued."""
    signature = env.catalogers_signature()
    key = hashlib.sha256(signature.encode()).hexdigest()[:16]
    now = env.clock.now()
    queued = 0
    with env.store.write() as uow:
        for x in uow.scans.stale_inventories(env.tenant, signature):
            job = Recatalogue(x.repository, x.digest)
            if enqueue(uow.jobs, job, f"recatalogue:{key}:{x.repository_id}:{x.digest}", now):
                queued += 1
    if queued:
        logger.info("cataloger versions changed: %d images queued for re-cataloguing", queued)
    return queued
