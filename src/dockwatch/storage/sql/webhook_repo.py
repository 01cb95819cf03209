"""Webhook subscriptions and their delivery log in SQL (`storage.webhook_repo` says what the
rows mean); `lease_until` keeps a row from being sent twice while a send is in flight."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc, as_utc_or_none
from dockwatch.storage.sql import finding_repo
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.outbox import events_by_id
from dockwatch.storage.webhook_repo import PENDING, AttemptRow, DueAttempt, WebhookRow


def _webhook(r: Any) -> WebhookRow:
    row = r._mapping
    return WebhookRow(
        id=row["id"],
        account_id=row["account_id"],
        region=row["region"],
        url=row["url"],
        secret=row["secret"],
        event_types=tuple(json.loads(row["event_types"])),
        description=row["description"],
        enabled=bool(row["enabled"]),
        insecure_skip_verify=bool(row["insecure_skip_verify"]),
        start_after_id=int(row["start_after_id"]),
        created_at=as_utc(row["created_at"]),
    )


def _due_condition(now: datetime) -> ColumnElement[bool]:
    d = t.webhook_deliveries
    return and_(
        d.c.status == PENDING,
        d.c.next_attempt_at <= now,
        or_(d.c.lease_until.is_(None), d.c.lease_until <= now),
    )


class SqlWebhookRepo:
    """`storage.webhook_repo.WebhookRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def max_outbox_id(self) -> int:
        """The newest outbox event id (0 when empty)."""
        return int(self._conn.execute(select(func.max(t.outbox.c.id))).scalar() or 0)

    def insert_webhook(
        self,
        tenant: Tenant,
        *,
        webhook_id: str,
        url: str,
        secret: str,
        event_types: Sequence[str],
        description: str,
        insecure_skip_verify: bool,
        at: datetime,
    ) -> WebhookRow:
        start = self.max_outbox_id()
        self._conn.execute(
            insert(t.webhooks).values(
                id=webhook_id,
                account_id=tenant.account_id,
                region=tenant.region,
                url=url,
                secret=secret,
                event_types=json.dumps(list(event_types)),
                description=description,
                enabled=True,
                insecure_skip_verify=insecure_skip_verify,
                start_after_id=start,
                created_at=at,
            )
        )
        return WebhookRow(
            webhook_id,
            tenant.account_id,
            tenant.region,
            url,
            secret,
            tuple(event_types),
            description,
            True,
            insecure_skip_verify,
            start,
            at,
        )

    def count_webhooks(self, tenant: Tenant) -> int:
        w = t.webhooks
        return int(
            self._conn.execute(
                select(func.count())
                .select_from(w)
                .where(w.c.account_id == tenant.account_id, w.c.region == tenant.region)
            ).scalar()
            or 0
        )

    def get_webhook(self, tenant: Tenant, webhook_id: str) -> WebhookRow | None:
        w = t.webhooks
        row = self._conn.execute(
            select(w).where(
                w.c.id == webhook_id,
                w.c.account_id == tenant.account_id,
                w.c.region == tenant.region,
            )
        ).first()
        return None if row is None else _webhook(row)

    def list_webhooks(self, tenant: Tenant) -> list[WebhookRow]:
        w = t.webhooks
        rows = self._conn.execute(
            select(w)
            .where(w.c.account_id == tenant.account_id, w.c.region == tenant.region)
            .order_by(w.c.created_at, w.c.id)
        )
        return [_webhook(r) for r in rows]

    def enabled_webhooks(self) -> list[WebhookRow]:
        w = t.webhooks
        return [_webhook(r) for r in self._conn.execute(select(w).where(w.c.enabled.is_(True)))]

    def delete_webhook(self, tenant: Tenant, webhook_id: str) -> bool:
        if self.get_webhook(tenant, webhook_id) is None:
            return False
        self._conn.execute(
            delete(t.webhook_deliveries).where(t.webhook_deliveries.c.webhook_id == webhook_id)
        )
        self._conn.execute(delete(t.webhooks).where(t.webhooks.c.id == webhook_id))
        return True

    def unsealed_secrets(self, prefix: str) -> list[tuple[str, str]]:
        w = t.webhooks
        rows = self._conn.execute(
            select(w.c.id, w.c.secret).where(w.c.secret.not_like(f"{prefix}%"))
        )
        return [(r.id, r.secret) for r in rows]

    def set_secret(self, webhook_id: str, stored: str) -> None:
        self._conn.execute(
            update(t.webhooks).where(t.webhooks.c.id == webhook_id).values(secret=stored)
        )

    def insert_attempt(
        self,
        *,
        webhook_id: str,
        event_id: int,
        attempt: int,
        next_attempt_at: datetime,
        started_at: datetime,
        at: datetime,
    ) -> None:
        self._conn.execute(
            insert(t.webhook_deliveries).values(
                webhook_id=webhook_id,
                event_id=event_id,
                attempt=attempt,
                status=PENDING,
                next_attempt_at=next_attempt_at,
                started_at=started_at,
                created_at=at,
                updated_at=at,
            )
        )

    def any_due(self, now: datetime) -> bool:
        d = t.webhook_deliveries
        return (
            self._conn.execute(select(d.c.id).where(_due_condition(now)).limit(1)).first()
            is not None
        )

    def claim_due(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        exclude: Collection[int] = (),
    ) -> list[DueAttempt]:
        d, w = t.webhook_deliveries, t.webhooks
        query = (
            select(
                d.c.id.label("delivery_id"),
                d.c.attempt,
                d.c.started_at,
                d.c.event_id,
                *w.c,
            )
            .join(w, w.c.id == d.c.webhook_id)
            .where(_due_condition(now), w.c.enabled.is_(True))
            .where(d.c.id.not_in(list(exclude)))
            .order_by(d.c.next_attempt_at, d.c.id)
            .limit(limit)
        )
        found = self._conn.execute(query).all()
        # an event may sit in a batch row of the outbox: looked up by id, not joined
        events = events_by_id(self._conn, [int(r._mapping["event_id"]) for r in found])
        out: list[DueAttempt] = []
        for r in found:
            m = r._mapping
            out.append(
                DueAttempt(
                    int(m["delivery_id"]),
                    int(m["attempt"]),
                    as_utc(m["started_at"]),
                    _webhook(r),
                    events.get(int(m["event_id"])),
                )
            )
        if out:
            self._conn.execute(
                update(d).where(d.c.id.in_([a.id for a in out])).values(lease_until=lease_until)
            )
        return out

    def finish_attempt(
        self,
        attempt_id: int,
        *,
        status: str,
        http_status: int | None,
        error: str | None,
        duration_ms: int | None,
        at: datetime,
    ) -> bool:
        d = t.webhook_deliveries
        return bool(
            self._conn.execute(
                update(d)
                .where(d.c.id == attempt_id, d.c.status == PENDING)
                .values(
                    status=status,
                    http_status=http_status,
                    error=error,
                    duration_ms=duration_ms,
                    attempted_at=at,
                    lease_until=None,
                    updated_at=at,
                )
            ).rowcount
        )

    def release_leases(self, at: datetime) -> int:
        d = t.webhook_deliveries
        return int(
            self._conn.execute(
                update(d)
                .where(d.c.status == PENDING, d.c.lease_until.is_not(None))
                .values(lease_until=None, updated_at=at)
            ).rowcount
        )

    def list_attempts(
        self,
        webhook_id: str,
        *,
        after_id: int,
        limit: int,
        status: str | None = None,
    ) -> list[AttemptRow]:
        d = t.webhook_deliveries
        query = (
            select(d)
            .where(d.c.webhook_id == webhook_id, d.c.id > after_id)
            .order_by(d.c.id)
            .limit(limit)
        )
        if status is not None:
            query = query.where(d.c.status == status)
        found = self._conn.execute(query).all()
        events = events_by_id(self._conn, [int(r._mapping["event_id"]) for r in found])
        out = []
        for r in found:
            m = r._mapping
            event = events.get(int(m["event_id"]))
            out.append(
                AttemptRow(
                    id=int(m["id"]),
                    webhook_id=m["webhook_id"],
                    event_id=int(m["event_id"]),
                    event_type=None if event is None else event.event_type,
                    account_id=None if event is None else event.tenant.account_id,
                    region=None if event is None else event.tenant.region,
                    attempt=int(m["attempt"]),
                    status=m["status"],
                    http_status=m["http_status"],
                    error=m["error"],
                    duration_ms=m["duration_ms"],
                    next_attempt_at=as_utc(m["next_attempt_at"]),
                    started_at=as_utc(m["started_at"]),
                    attempted_at=as_utc_or_none(m["attempted_at"]),
                    created_at=as_utc(m["created_at"]),
                    updated_at=as_utc(m["updated_at"]),
                )
            )
        return out

    def finding_detail(self, ref: str) -> Mapping[str, Any]:
        return finding_repo.load_details(self._conn, [ref]).get(ref, {})
