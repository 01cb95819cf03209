"""SQL for deleting closed findings that are due, then the details nothing references any more.

Findings go first, because the rollup triggers read a finding's detail when it is deleted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, delete, exists, literal, or_, select

from dockwatch.model.identity import Tenant
from dockwatch.storage.finding_repo import Purged
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.batching import chunks
from dockwatch.storage.sql.finding_queries.tenant_sql import of_tenant


def purge_closed(
    conn: Connection, tenant: Tenant, now: datetime, *, closed_after: timedelta,
    gone_after: timedelta,
) -> Purged:  # fmt: skip
    """Delete the tenant's closed findings that are due (see `FindingRepo.purge_closed`)."""
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
        *of_tenant(conn, tenant),
        f.c.status == "CLOSED",
        f.c.closed_at.is_not(None),
        or_(
            f.c.closed_at <= now - closed_after,
            and_(f.c.closed_at <= now - gone_after, or_(~present, ~eligible)),
        ),
    )
    rows = conn.execute(select(f.c.id, f.c.detail_ref).where(due)).all()
    if not rows:
        return Purged(0, 0)
    ids = [r.id for r in rows]
    for part in chunks(ids):
        conn.execute(delete(f).where(f.c.id.in_(part)))
    orphans = _orphans(conn, sorted({r.detail_ref for r in rows}))
    d, dp = t.finding_details, t.detail_packages
    for part in chunks(orphans):
        conn.execute(delete(dp).where(dp.c.detail_ref.in_(part)))
        conn.execute(delete(d).where(d.c.ref.in_(part)))
    return Purged(len(ids), len(orphans))


def _orphans(conn: Connection, refs: list[str]) -> list[str]:
    """Those of `refs` no finding references any more."""
    f = t.findings
    used: set[str] = set()
    for part in chunks(refs):
        used |= {
            r[0]
            for r in conn.execute(select(f.c.detail_ref).where(f.c.detail_ref.in_(part)).distinct())
        }
    return [r for r in refs if r not in used]
