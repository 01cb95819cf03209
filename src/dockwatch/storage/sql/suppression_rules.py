"""SQL for suppression rules (Inspector's filters): the `suppression_rules` table."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select

from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc, as_utc_or_none
from dockwatch.storage.finding_repo import RuleRecord
from dockwatch.storage.sql import tables as t

r_ = t.suppression_rules


def record(row: Any) -> RuleRecord:
    """A `suppression_rules` row as a value."""
    return RuleRecord(
        id=row.id,
        arn=row.arn,
        name=row.name,
        action=row.action,
        criteria=json.loads(row.criteria),
        description=row.description,
        reason=row.reason,
        tags=json.loads(row.tags or "{}"),
        expires_at=as_utc_or_none(row.expires_at),
        expired_at=as_utc_or_none(row.expired_at),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def of_tenant(tenant: Tenant) -> ColumnElement[bool]:
    """The rows of one tenant."""
    return and_(r_.c.account_id == tenant.account_id, r_.c.region == tenant.region)


def rules_in_force(conn: Connection, tenant: Tenant, now: datetime) -> list[RuleRecord]:
    """SUPPRESS rules not past their expiry, oldest first."""
    rows = conn.execute(
        select(r_)
        .where(
            of_tenant(tenant),
            r_.c.action == "SUPPRESS",
            or_(r_.c.expires_at.is_(None), r_.c.expires_at > now),
        )
        .order_by(r_.c.created_at, r_.c.id)
    )
    return [record(r) for r in rows]
