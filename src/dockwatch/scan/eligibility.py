"""Who stays monitored: activation, deactivation and the periodic expiry pass.

Activation (BASIC -> ENHANCED) queues a scan of every image pushed within the activation window
in a repository the rules scan; older images are covered as INACTIVE / SCAN_ELIGIBILITY_EXPIRED
until pushed again. Deactivation closes enhanced findings and removes enhanced coverage. The
expiry pass (run by the worker, never computed on read) turns images of continuously scanned
repositories past their re-scan duration INACTIVE, closes their findings and writes a
`CoverageChanged` event; a re-push scans them again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from dockwatch.model.times import as_utc, as_utc_or_none
from dockwatch.storage.sql import outbox
from dockwatch.storage.sql import scan_repo as sql
from dockwatch.storage.sql import tables as t

from .config import RegistryScanningConfiguration, ScanFrequency, ScanType
from .jobs import enqueue

if TYPE_CHECKING:
    from .service import ScanService

logger = logging.getLogger(__name__)

COVERAGE_CHANGED = "CoverageChanged"


def activate(
    service: ScanService, conn: Any, config: RegistryScanningConfiguration, now: datetime
) -> None:
    """Queue scans of recent images; mark older ones expired."""
    tenant = service.ctx.tenant
    window = now - timedelta(days=service.activation_days)
    r, m = t.repositories, t.manifests
    rows = conn.execute(
        m.select()
        .with_only_columns(
            r.c.id, r.c.name, r.c.scan_on_push, m.c.digest, m.c.last_pushed_at, m.c.media_type
        )
        .join(r, r.c.id == m.c.repository_id)
        .where(r.c.account_id == tenant.account_id, r.c.region == tenant.region)
    ).all()
    for row in rows:
        if config.frequency_for(row.name, row.scan_on_push) is ScanFrequency.MANUAL:
            continue
        if as_utc(row.last_pushed_at) >= window:
            key = f"activate:{row.id}:{row.digest}:{now.isoformat()}"
            enqueue(conn, "scan", key, {"repository": row.name, "digest": row.digest}, now)
        else:
            state = sql.ScanState(
                row.id,
                row.digest,
                "ENHANCED",
                "INACTIVE",
                "SCAN_ELIGIBILITY_EXPIRED",
                None,
                0,
                None,
                None,
            )
            sql.put_scan(conn, tenant, state, now)


def deactivate(service: ScanService, conn: Any, now: datetime) -> None:
    """Close enhanced findings and remove enhanced coverage."""
    tenant = service.ctx.tenant
    s, r = t.image_scans, t.repositories
    rows = conn.execute(
        s.select()
        .with_only_columns(s.c.repository_id, s.c.digest, r.c.name)
        .join(r, r.c.id == s.c.repository_id)
        .where(
            s.c.account_id == tenant.account_id,
            s.c.region == tenant.region,
            s.c.scan_type == "ENHANCED",
        )
    ).all()
    service.writer.close_all(conn, [(row.repository_id, row.name, row.digest) for row in rows], now)
    for row in rows:
        sql.delete_scan(conn, row.repository_id, row.digest)


def expire_pass(service: ScanService) -> int:
    """Expire images past the re-scan duration; returns how many."""
    config, ecr = service.settings()
    if config.scan_type is not ScanType.ENHANCED:
        return 0
    tenant = service.ctx.tenant
    now = service.clock.now()
    expired = 0
    s, m, r = t.image_scans, t.manifests, t.repositories
    with service.db.write() as conn:
        rows = conn.execute(
            s.select()
            .with_only_columns(
                s.c.repository_id,
                s.c.digest,
                r.c.name,
                r.c.scan_on_push,
                m.c.last_pushed_at,
                m.c.last_pulled_at,
            )
            .join(r, r.c.id == s.c.repository_id)
            .join(m, (m.c.repository_id == s.c.repository_id) & (m.c.digest == s.c.digest))
            .where(
                s.c.account_id == tenant.account_id,
                s.c.region == tenant.region,
                s.c.status_code == "ACTIVE",
            )
        ).all()
        for row in rows:
            if (
                config.frequency_for(row.name, row.scan_on_push)
                is not ScanFrequency.CONTINUOUS_SCAN
            ):
                continue
            if not ecr.expired(as_utc(row.last_pushed_at), as_utc_or_none(row.last_pulled_at), now):
                continue
            state = sql.get_scan(conn, row.repository_id, row.digest)
            assert state is not None
            sql.put_scan(
                conn,
                tenant,
                dataclasses.replace(
                    state, status_code="INACTIVE", reason="SCAN_ELIGIBILITY_EXPIRED"
                ),
                now,
            )
            service.writer.close_all(conn, [(row.repository_id, row.name, row.digest)], now)
            outbox.append(
                conn,
                account_id=tenant.account_id,
                region=tenant.region,
                event_type=COVERAGE_CHANGED,
                subject=row.name,
                payload={
                    "repositoryName": row.name,
                    "imageDigest": row.digest,
                    "scanStatus": {"statusCode": "INACTIVE", "reason": "SCAN_ELIGIBILITY_EXPIRED"},
                },
                at=now,
            )
            expired += 1
    return expired


def recatalogue_pass(service: ScanService) -> int:
    """Queue a scan of every monitored image whose inventory was made by other cataloger
    versions (a cataloger was bumped or added by an upgrade): the layer cache misses only for
    the changed catalogers, so only the layers they cover are read again, and the images are
    re-matched with what they now find. Returns how many scans were queued."""
    signature = service.catalogers_signature()
    key = hashlib.sha256(signature.encode()).hexdigest()[:16]
    s, r, inv = t.image_scans, t.repositories, t.image_inventories
    now = service.clock.now()
    queued = 0
    with service.db.write() as conn:
        rows = conn.execute(
            select(s.c.repository_id, s.c.digest, r.c.name)
            .join(r, r.c.id == s.c.repository_id)
            .join(inv, inv.c.digest == s.c.digest)
            .where(
                s.c.account_id == service.ctx.tenant.account_id,
                s.c.region == service.ctx.tenant.region,
                s.c.scan_type == "ENHANCED",
                s.c.status_code == "ACTIVE",
                inv.c.catalogers != signature,
            )
        ).all()
        for row in rows:
            payload = {"repository": row.name, "digest": row.digest}
            if enqueue(
                conn, "scan", f"recatalogue:{key}:{row.repository_id}:{row.digest}", payload, now
            ):
                queued += 1
    if queued:
        logger.info("cataloger versions changed: %d images queued for re-cataloguing", queued)
    return queued
