"""Outbox retention: events leave the outbox once they are old and every reader is done.

Every finding change writes an event (about 0.1 kB stored in a batch row with the other
finding events of its write, `storage/sql/outbox_batches.py`), so without retention the outbox
would grow with every change ever reported. Subscribers only ever read forward from their
cursors; what reads the past is ListUsageTotals (the scan events of the last 30 days), so the
retention is never shorter than that. An event a webhook delivery still waits on stays until
the delivery ends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from dockwatch.clock import due
from dockwatch.storage.unit_of_work import Store

logger = logging.getLogger(__name__)

MIN_RETENTION = timedelta(days=30)
"""ListUsageTotals counts the scans of the last 30 days from the outbox's scan events."""
PURGE_INTERVAL = timedelta(hours=1)


@dataclass(slots=True)
class OutboxPurger:
    """Deletes events older than the retention, at most once per `interval` of the injected
    clock."""

    retention: timedelta = timedelta(days=90)
    interval: timedelta = PURGE_INTERVAL
    last: datetime | None = None

    def run_if_due(self, store: Store, now: datetime) -> int:
        """Purge when due; returns how many events were deleted (0 when not due)."""
        if not due(self.last, now, self.interval):
            return 0
        self.last = now
        with store.write() as uow:
            purged = uow.outbox.purge_before(now - max(self.retention, MIN_RETENTION))
        if purged:
            logger.info("purged %d outbox events older than %s", purged, self.retention)
        return purged
