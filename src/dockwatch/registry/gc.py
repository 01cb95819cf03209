"""Online garbage collection: SQL reference counts plus a grace period for pushes in flight.

A blob is collected when no manifest references it and it is older than the grace period, so a
blob uploaded moments before its manifest arrives is never taken. Rows and files of the victims go
in one write transaction (uploads publish under the same lock). A kill inside it rolls the rows
back over files already removed: those blobs are still unreferenced, clients cannot see them
(a blob counts only when its file exists, for HEAD, GET, mounts and manifest pushes alike) and
the next run takes their rows. A kill after the commit leaves at most files without rows, which
the next run removes as orphans. Nothing a manifest references is ever touched.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from dockwatch.model.digest import Digest
from dockwatch.value_class import frozen

from .context import RegistryContext

logger = logging.getLogger(__name__)


@frozen
class GcReport:
    """What one run removed."""

    blobs_removed: int
    bytes_freed: int
    uploads_removed: int
    orphan_files_removed: int
    manifest_contents_removed: int


def collect(ctx: RegistryContext, grace: timedelta | None = None) -> GcReport:
    """Remove unreferenced blobs and uploads idle longer than the expiry."""
    now = ctx.clock.now()
    grace = grace if grace is not None else timedelta(hours=1)
    expiry = timedelta(seconds=ctx.upload_expiry_seconds)

    uploads_removed = 0
    with ctx.store.read() as uow:
        sessions = uow.registry.upload_ids()
    on_disk = dict(ctx.blobs.upload_ids())
    for upload_id, started in sessions.items():
        if now - started > expiry:
            with ctx.store.write() as uow:
                uow.registry.delete_upload(upload_id)
            try:
                ctx.blobs.writer(upload_id).cancel()
            except Exception:  # noqa: BLE001 - already gone is fine
                pass
            uploads_removed += 1
    for upload_id, mtime in on_disk.items():
        if upload_id not in sessions and now.timestamp() - mtime > expiry.total_seconds():
            try:
                ctx.blobs.writer(upload_id).cancel()
                uploads_removed += 1
            except Exception:  # noqa: BLE001
                pass

    # Rows and files go in the same write transaction: uploads publish their file under that
    # lock too, so a blob re-uploaded while gc runs is either seen as referenced or re-created
    # after gc is done with it, never deleted under a fresh row.
    freed = 0
    with ctx.store.write() as uow:
        victims = uow.registry.unreferenced_blobs(now - grace)
        for d in victims:
            freed += uow.registry.blob_size(d) or 0
            uow.registry.forget_blob(d)
            ctx.blobs.delete(Digest(d))
        orphan_contents = uow.registry.orphan_manifest_contents()
        for d in orphan_contents:
            uow.registry.delete_manifest_content(d)

    orphans = 0
    with ctx.store.write() as uow:
        known = uow.registry.blob_digests()
        for d in ctx.blobs.digests():
            if d not in known:  # a file left by a crash between publish and its rows
                ctx.blobs.delete(d)
                orphans += 1
    report = GcReport(len(victims), freed, uploads_removed, orphans, len(orphan_contents))
    logger.info("gc: %s", report)
    return report
