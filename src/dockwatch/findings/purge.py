"""Deleting closed findings when Inspector does (its documented finding lifecycle).

"When a resource is deleted, terminated, or no longer eligible for scanning, Amazon Inspector
automatically closes findings associated with the resource and then deletes the findings after
3 days. If findings are closed for any other reason, they are deleted after 30 days."
(User Guide, "Understanding Amazon Inspector findings".)

Here an image resource is gone when its manifest is deleted, and no longer eligible when it has
no scan state or its scan status is INACTIVE (expired, unsupported, scanning turned off). The
clock is `closed_at`: a finding closed 2 days before its image expired is deleted 3 days after
its closing, as Inspector counts from the close. Finding details (and their package rows) that
no remaining finding references are deleted with the last finding naming them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from dockwatch.clock import due
from dockwatch.model.identity import Tenant
from dockwatch.storage.unit_of_work import Store, UnitOfWork

logger = logging.getLogger(__name__)

GONE_AFTER = timedelta(days=3)
"""Closed findings of deleted or ineligible images."""
CLOSED_AFTER = timedelta(days=30)
"""Any other closed finding."""
INTERVAL = timedelta(hours=1)
"""How often the scan worker purges: the deadlines are days, the scan of CLOSED rows is not free."""


@dataclass(slots=True)
class Purger:
    """Runs `purge_closed` from a periodic loop at most once per `interval` of the injected
    clock (a test that moves the clock days ahead sees the purge on the next round)."""

    interval: timedelta = INTERVAL
    last: datetime | None = None

    def run_if_due(self, store: Store, tenant: Tenant, now: datetime) -> int:
        """Purge when due; returns how many findings were deleted (0 when not due)."""
        if not due(self.last, now, self.interval):
            return 0
        self.last = now
        with store.write() as uow:
            return purge_closed(uow, tenant, now)


def purge_closed(uow: UnitOfWork, tenant: Tenant, now: datetime) -> int:
    """Delete the tenant's closed findings that are due, then the details nothing references;
    returns how many findings were deleted."""
    purged = uow.findings.purge_closed(
        tenant, now, closed_after=CLOSED_AFTER, gone_after=GONE_AFTER
    )
    if purged.findings:
        logger.info(
            "purged closed findings",
            extra={
                "purged": purged.findings,
                "details": purged.details,
                "account": tenant.account_id,
            },
        )
    return purged.findings


def purge_deactivated(uow: UnitOfWork, tenant: Tenant, now: datetime) -> int:
    """Enhanced scanning was turned off: every closed finding of the tenant is deleted at once
    (Inspector: "When you deactivate a scan type, you lose access to any findings the scan
    type produced"); returns how many were deleted. Basic scan results live elsewhere."""
    purged = uow.findings.purge_closed(
        tenant, now, closed_after=timedelta(0), gone_after=timedelta(0)
    )
    logger.info(
        "enhanced scanning turned off: findings purged",
        extra={"purged": purged.findings, "account": tenant.account_id},
    )
    return purged.findings
