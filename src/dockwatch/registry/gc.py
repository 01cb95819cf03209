"""Online garbage collection: SQL reference counts plus a grace period for pushes in flight.

A blob is collected when no manifest references it and it is older than the grace period, so a
blob uploaded moments before its manifest arrives is never taken. The rows go first (in one
transaction), then the file: a crash in between leaves a file without rows, which the next run
removes as an orphan; the opposite order could leave rows pointing at nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from dockwatch.model.digest import Digest
from dockwatch.storage.sql import registry_repo as repo

from .context import RegistryContext

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
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
    with ctx.db.read() as conn:
        sessions = repo.upload_ids(conn)
    on_disk = dict(ctx.blobs.upload_ids())
    for upload_id, started in sessions.items():
        if now - started > expiry:
            with ctx.db.write() as conn:
                repo.delete_upload(conn, upload_id)
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
    with ctx.db.write() as conn:
        victims = repo.unreferenced_blobs(conn, now - grace)
        for d in victims:
            freed += repo.blob_size(conn, d) or 0
            repo.forget_blob(conn, d)
            ctx.blobs.delete(Digest(d))
        orphan_contents = repo.orphan_manifest_contents(conn)
        for d in orphan_contents:
            repo.delete_manifest_content(conn, d)

    orphans = 0
    with ctx.db.write() as conn:
        known = repo.blob_digests(conn)
        for d in ctx.blobs.digests():
            if d not in known:  # a file left by a crash between publish and its rows
                ctx.blobs.delete(d)
                orphans += 1
    report = GcReport(len(victims), freed, uploads_removed, orphans, len(orphan_contents))
    logger.info("gc: %s", report)
    return report
