"""SQL for suppression rules (Inspector's filters) and for the findings a rule change touches."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select

from dockwatch.model.finding_criteria import Criteria
from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc, as_utc_or_none
from dockwatch.storage.finding_repo import RuleRecord, SuppressionCandidate
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.batching import chunks
from dockwatch.storage.sql.finding_queries.criteria_sql import sql_filter
from dockwatch.storage.sql.finding_queries.tenant_sql import of_tenant as findings_of

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


def find(conn: Connection, tenant: Tenant, rule_id: str) -> RuleRecord | None:
    """One rule of the tenant by id."""
    row = conn.execute(select(r_).where(of_tenant(tenant), r_.c.id == rule_id)).first()
    return None if row is None else record(row)


def named(conn: Connection, tenant: Tenant, name: str) -> str | None:
    """The id of the tenant's rule called `name`, if any."""
    row = conn.execute(select(r_.c.id).where(of_tenant(tenant), r_.c.name == name)).first()
    return None if row is None else str(row.id)


def _values(rule: RuleRecord) -> dict[str, Any]:
    return {
        "arn": rule.arn,
        "name": rule.name,
        "description": rule.description,
        "reason": rule.reason,
        "action": rule.action,
        "criteria": json.dumps(rule.criteria, sort_keys=True),
        "tags": json.dumps(rule.tags, sort_keys=True),
        "expires_at": rule.expires_at,
        "expired_at": rule.expired_at,
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }


def insert(conn: Connection, tenant: Tenant, rule: RuleRecord) -> None:
    """Store a new rule."""
    conn.execute(
        r_.insert().values(
            id=rule.id, account_id=tenant.account_id, region=tenant.region, **_values(rule)
        )
    )


def replace(conn: Connection, tenant: Tenant, rule: RuleRecord) -> None:
    """Store a changed rule (same id) over the old one."""
    conn.execute(r_.update().where(of_tenant(tenant), r_.c.id == rule.id).values(**_values(rule)))


def delete(conn: Connection, tenant: Tenant, rule_id: str) -> None:
    """Forget a rule."""
    conn.execute(r_.delete().where(of_tenant(tenant), r_.c.id == rule_id))


def page(
    conn: Connection,
    tenant: Tenant,
    *,
    action: str | None,
    arns: Sequence[str],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[RuleRecord]:
    """Rules oldest first (creation time, then id), after the (created, id) position."""
    query = select(r_).where(of_tenant(tenant))
    if action is not None:
        query = query.where(r_.c.action == action)
    if arns:
        query = query.where(r_.c.arn.in_(list(arns)))
    if after is not None:
        created, rule_id = after
        query = query.where(
            or_(r_.c.created_at > created, and_(r_.c.created_at == created, r_.c.id > rule_id))
        )
    rows = conn.execute(query.order_by(r_.c.created_at, r_.c.id).limit(limit))
    return [record(r) for r in rows]


def due(conn: Connection, tenant: Tenant, now: datetime, limit: int | None = None) -> list[str]:
    """Ids of SUPPRESS rules past `expiresAt` whose expiry is not applied yet."""
    query = select(r_.c.id).where(
        of_tenant(tenant),
        r_.c.action == "SUPPRESS",
        r_.c.expires_at <= now,
        r_.c.expired_at.is_(None),
    )
    if limit is not None:
        query = query.limit(limit)
    return [str(i) for i in conn.execute(query).scalars()]


def mark_expired(conn: Connection, tenant: Tenant, rule_id: str, at: datetime) -> None:
    """Record that a rule's expiry has been applied to the findings."""
    conn.execute(r_.update().where(of_tenant(tenant), r_.c.id == rule_id).values(expired_at=at))


# --- the findings a rule change can touch --------------------------------------------------------

f_ = t.findings
_CANDIDATE = (
    f_.c.id, f_.c.repository_id, f_.c.repository_name, f_.c.digest, f_.c.vulnerability_id,
    f_.c.status, f_.c.severity, f_.c.fix_available, f_.c.first_observed_at,
    f_.c.last_observed_at, f_.c.detail_ref, f_.c.suppressed_by,
)  # fmt: skip


def candidates(
    conn: Connection,
    tenant: Tenant,
    *,
    suppressed_by: str | None = None,
    active_matching: Criteria | None = None,
) -> dict[str, SuppressionCandidate]:
    """Open findings suppressed by the rule `suppressed_by`, and ACTIVE ones `active_matching`
    matches, by id."""
    conditions: list[ColumnElement[bool]] = []
    if suppressed_by is not None:
        conditions.append(f_.c.suppressed_by == suppressed_by)
    if active_matching is not None:
        conditions.append(and_(f_.c.status == "ACTIVE", sql_filter(active_matching)))
    out: dict[str, SuppressionCandidate] = {}
    for condition in conditions:
        for r in conn.execute(
            select(*_CANDIDATE).where(
                *findings_of(conn, tenant),
                f_.c.status != "CLOSED",
                condition,
            )
        ):
            out[r.id] = SuppressionCandidate(
                r.id, r.repository_id, r.repository_name, r.digest, r.vulnerability_id,
                r.status, r.severity, r.fix_available, as_utc(r.first_observed_at),
                as_utc(r.last_observed_at), r.detail_ref, r.suppressed_by,
            )  # fmt: skip
    return out


def ids_matching(conn: Connection, ids: Sequence[str], criteria: Criteria) -> set[str]:
    """Those of the finding ids the criteria match."""
    condition = sql_filter(criteria)
    hit: set[str] = set()
    for part in chunks(ids):
        hit |= set(conn.execute(select(f_.c.id).where(f_.c.id.in_(part), condition)).scalars())
    return hit
