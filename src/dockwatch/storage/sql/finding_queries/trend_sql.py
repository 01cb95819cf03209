"""Open findings at a series of instants, by severity: one pass over the tenant's findings.

A finding counts as open at instant `t` when it was first observed at or before `t` and was not
closed by then (`closed_at` empty or later). Findings suppressed now are left out: their
suppression carries no time, so they could not be placed on a day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, and_, case, func, or_, select

from dockwatch.model.identity import Tenant
from dockwatch.storage.sql.finding_queries.tenant_sql import of_tenant
from dockwatch.storage.sql.tables import findings


def open_counts_at(
    conn: Connection, tenant: Tenant, instants: Sequence[datetime]
) -> dict[str, list[int]]:
    """severity -> the number of open findings at each of `instants` (same order)."""
    if not instants:
        return {}
    f = findings
    columns = [
        func.sum(
            case(
                (
                    and_(
                        f.c.first_observed_at <= t,
                        or_(f.c.closed_at.is_(None), f.c.closed_at > t),
                    ),
                    1,
                ),
                else_=0,
            )
        ).label(f"at_{i}")
        for i, t in enumerate(instants)
    ]
    query = (
        select(f.c.severity, *columns)
        .where(
            *of_tenant(conn, tenant),
            f.c.status != "SUPPRESSED",
            f.c.first_observed_at <= max(instants),
            or_(f.c.closed_at.is_(None), f.c.closed_at > min(instants)),
        )
        .group_by(f.c.severity)
    )
    return {row[0]: [int(v or 0) for v in row[1:]] for row in conn.execute(query)}
