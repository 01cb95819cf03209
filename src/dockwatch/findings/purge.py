"""Deleting closed findings when Inspector does (its documented finding lifecycle).

"When a resource is deleted, terminated, or no longer eligible for scanning, Amazon Inspector
automatically closes findings associated with the resource and then deletes the findings after
3 days. If findings are closed for any other reason, they are deleted after 30 days."
(User Guide, "Understanding Amazon Inspector findings".)

Here an image resource is gone when its manifest is deleted, and no longer eligible when it has
no scan state or its scan status is INACTIVE (expired, unsupported, scanning turned off). The
clock is `closed_at`: a finding closed 2 days before its image expired is deleted 3 days after
its closing, as Inspector counts from the close. Finding details (and their package rows) that
no remaining finding references are deleted with the last finding naming them; findings go
first, because the rollup triggers read a finding's detail when it is deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, delete, exists, literal, or_, select

from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database

logger = logging.getLogger(__name__)

GONE_AFTER = timedelta(days=3)
"""Closed findings of deleted or ineligible images."""
CLOSED_AFTER = timedelta(days=30)
"""Any other closed finding."""
CHUNK = 500
INTERVAL = timedelta(hours=1)
"""How often the scan worker purges: the deadlines are days, the scan of CLOSED rows is not free."""


@dataclass(slots=True)
class Purger:
    """Runs `purge_closed` from a periodic loop at most once per `interval` of the injected
    clock (a test that moves the clock days ahead sees the purge on the next round)."""

    interval: timedelta = INTERVAL
    last: datetime | None = None

    def run_if_due(self, db: Database, tenant: Tenant, now: datetime) -> int:
        """Purge when due; returns how many findings were deleted (0 when not due)."""
        if self.last is not None and timedelta(0) <= now - self.last < self.interval:
            return 0
        self.last = now
        with db.write() as conn:
            return purge_closed(conn, tenant, now)


def purge_closed(conn: Connection, tenant: Tenant, now: datetime) -> int:
    """Delete the tenant's closed findings that are due, then the details nothing references;
    returns how many findings were deleted."""
    f, m, s = t.findings, t.manifests, t.image_scans
    present = exists(
        select(literal(1)).where(m.c.repository_id == f.c.repository_id, m.c.digest == f.c.digest)
    )
    eligible = exists(
        select(literal(1)).where(
            s.c.repository_id == f.c.repository_id,
            s.c.digest == f.c.digest,
            s.c.status_code != "INACTIVE",
        )
    )
    due = and_(
        f.c.account_id == tenant.account_id,
        f.c.region == tenant.region,
        f.c.status == "CLOSED",
        f.c.closed_at.is_not(None),
        or_(
            f.c.closed_at <= now - CLOSED_AFTER,
            and_(f.c.closed_at <= now - GONE_AFTER, or_(~present, ~eligible)),
        ),
    )
    rows = conn.execute(select(f.c.id, f.c.detail_ref).where(due)).all()
    if not rows:
        return 0
    ids = [r.id for r in rows]
    for start in range(0, len(ids), CHUNK):
        conn.execute(delete(f).where(f.c.id.in_(ids[start : start + CHUNK])))
    orphans = _orphans(conn, sorted({r.detail_ref for r in rows}))
    d, dp = t.finding_details, t.detail_packages
    for start in range(0, len(orphans), CHUNK):
        part = orphans[start : start + CHUNK]
        conn.execute(delete(dp).where(dp.c.detail_ref.in_(part)))
        conn.execute(delete(d).where(d.c.ref.in_(part)))
    logger.info(
        "purged closed findings",
        extra={"purged": len(ids), "details": len(orphans), "account": tenant.account_id},
    )
    return len(ids)


def _orphans(conn: Connection, refs: list[str]) -> list[str]:
    """Those of `refs` no finding references any more."""
    f = t.findings
    used: set[str] = set()
    for start in range(0, len(refs), CHUNK):
        part = refs[start : start + CHUNK]
        used |= {
            r[0]
            for r in conn.execute(select(f.c.detail_ref).where(f.c.detail_ref.in_(part)).distinct())
        }
    return [r for r in refs if r not in used]
