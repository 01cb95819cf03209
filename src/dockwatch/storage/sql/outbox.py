"""The transactional outbox: events are rows written with the change they report.

Subscribers (scanning, webhooks, the console) read rows after their own cursor, so nothing is
lost across a restart and a duplicate can only follow a crash before the cursor moved. Rows
hold the event's name, subject and JSON payload (`model.events`); reading turns them back
into typed events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, text

from dockwatch.model.event_payload import payload_fields, wire_name
from dockwatch.model.events import (
    Event,
    FindingChanged,
    FindingClosed,
    FindingCreated,
    FindingUpdated,
    OutboxEvent,
    decode,
)
from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc
from dockwatch.storage.sql import tables
from dockwatch.storage.sql.bulk import insert_rows
from dockwatch.storage.sql.job_queue import ANNOUNCED, JOBS_CHANNEL
from dockwatch.storage.webhook_repo import PENDING

PURGE_BATCH = 5_000
"""Events read and deleted per statement by `purge_before` (bounded memory and statement size)."""

_COLUMNS = ("account_id", "region", "event_type", "subject", "payload", "created_at")

_FINDING_WIRE = (
    "findingId", "detailRef", "vulnerabilityId", "status", "severity", "fixAvailable",
    "firstObservedAt", "lastObservedAt", "updatedAt", "repositoryName", "imageDigest",
    "imageTags", "pushedAt", "changes",
)  # fmt: skip
_FINDING_TYPES = (FindingCreated, FindingUpdated, FindingClosed)
for _kind in _FINDING_TYPES:
    assert tuple(wire_name(f) for f in payload_fields(_kind)) == _FINDING_WIRE, (
        f"{_kind.__name__}'s fields moved: update _finding_payload"
    )


def _finding_payload(e: FindingChanged) -> dict[str, Any]:
    """`e.payload()` written out: a rescan stores one finding event per finding written, and
    the generic codec (field introspection, one call per value) cost 90 us of each at 13,500
    events; this costs 3 us. `tests/unit/storage/sql/test_outbox_payload.py` holds the two
    equal."""
    out: dict[str, Any] = {
        "findingId": e.finding_id,
        "detailRef": e.detail_ref,
        "vulnerabilityId": e.vulnerability_id,
        "status": e.status,
        "severity": e.severity,
        "fixAvailable": e.fix_available,
        "firstObservedAt": e.first_observed_at.isoformat(),
        "lastObservedAt": e.last_observed_at.isoformat(),
        "updatedAt": e.updated_at.isoformat(),
        "repositoryName": e.repository_name,
        "imageDigest": e.image_digest,
        "imageTags": list(e.image_tags),
        "pushedAt": None if e.pushed_at is None else e.pushed_at.isoformat(),
    }
    if e.changes:
        out["changes"] = list(e.changes)
    return out


def payload_json(event: Event) -> str:
    """The stored payload of an event: its JSON, keys sorted, no spaces."""
    if isinstance(event, FindingChanged) and type(event) in _FINDING_TYPES:
        doc = _finding_payload(event)
    else:
        doc = event.payload()
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def _row(event: Event) -> dict[str, Any]:
    return dict(zip(_COLUMNS, _values(event), strict=True))


def _values(event: Event) -> tuple[Any, ...]:
    return (
        event.tenant.account_id,
        event.tenant.region,
        event.name,
        event.subject,
        payload_json(event),
        event.at,
    )


def event_of(
    outbox_id: int,
    account_id: str,
    region: str,
    event_type: str,
    subject: str,
    payload: str,
    created_at: datetime,
) -> OutboxEvent:
    """The typed event of one stored row (also for joins that select the outbox columns)."""
    try:
        doc = json.loads(payload)
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    tenant = Tenant(account_id, region)
    return OutboxEvent(int(outbox_id), decode(event_type, tenant, as_utc(created_at), subject, doc))


class SqlOutbox:
    """`storage.outbox.Outbox` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def append(self, event: Event) -> int:
        result = self._conn.execute(tables.outbox.insert().values(**_row(event)))
        key = result.inserted_primary_key
        assert key is not None
        self._announce()
        return int(key[0])

    def append_many(self, events: Iterable[Event]) -> int:
        rows = [_values(e) for e in events]
        if rows:
            insert_rows(self._conn, tables.outbox, _COLUMNS, rows)  # ids follow the order
            self._announce()
        return len(rows)

    def _announce(self) -> None:
        """Wake idle workers of every process at commit (PostgreSQL folds the notifications of
        one transaction with the same payload into one)."""
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(
                text("SELECT pg_notify(:channel, 'outbox')"), {"channel": JOBS_CHANNEL}
            )
        else:  # SQLite: this process's workers, woken by `SqlStore.write` after the commit
            self._conn.info[ANNOUNCED] = True

    def read_after(
        self, after_id: int, event_types: Iterable[str] | None = None, limit: int = 500
    ) -> list[OutboxEvent]:
        t = tables.outbox
        query = select(t).where(t.c.id > after_id).order_by(t.c.id).limit(limit)
        if event_types is not None:
            query = query.where(t.c.event_type.in_([str(e) for e in event_types]))
        return [
            event_of(r.id, r.account_id, r.region, r.event_type, r.subject, r.payload, r.created_at)
            for r in self._conn.execute(query)
        ]

    def read_of_tenant(
        self,
        tenant: Tenant,
        event_types: Iterable[str],
        since: datetime,
        after_id: int = 0,
        limit: int = 500,
    ) -> list[OutboxEvent]:
        t = tables.outbox
        query = (
            select(t)
            .where(
                t.c.id > after_id,
                t.c.event_type.in_([str(e) for e in event_types]),
                t.c.account_id == tenant.account_id,
                t.c.region == tenant.region,
                t.c.created_at >= since,
            )
            .order_by(t.c.id)
            .limit(limit)
        )
        return [
            event_of(r.id, r.account_id, r.region, r.event_type, r.subject, r.payload, r.created_at)
            for r in self._conn.execute(query)
        ]

    def last_id(self) -> int:
        return int(self._conn.execute(select(func.max(tables.outbox.c.id))).scalar() or 0)

    def count_after(self, after_id: int, event_types: Iterable[str]) -> int:
        t = tables.outbox
        query = select(func.count()).where(
            t.c.id > after_id, t.c.event_type.in_([str(e) for e in event_types])
        )
        return int(self._conn.execute(query).scalar() or 0)

    def cursor(self, subscriber: str) -> int:
        t = tables.outbox_cursors
        value = self._conn.execute(select(t.c.last_id).where(t.c.subscriber == subscriber)).scalar()
        return int(value or 0)

    def advance(self, subscriber: str, last_id: int, at: datetime) -> None:
        t = tables.outbox_cursors
        updated = self._conn.execute(
            t.update().where(t.c.subscriber == subscriber).values(last_id=last_id, updated_at=at)
        ).rowcount
        if not updated:
            self._conn.execute(
                t.insert().values(subscriber=subscriber, last_id=last_id, updated_at=at)
            )

    def purge_before(self, cutoff: datetime) -> int:
        o, d = tables.outbox, tables.webhook_deliveries
        passed = self._conn.execute(select(func.min(tables.outbox_cursors.c.last_id))).scalar()
        if passed is None:
            return 0  # no subscriber has read anything yet
        total, after = 0, 0
        while True:
            # ids grow with time, so the oldest rows come first and the walk stops at the
            # first row that is too new or not yet read by every subscriber
            rows = self._conn.execute(
                select(o.c.id, o.c.created_at)
                .where(o.c.id > after, o.c.id <= int(passed))
                .order_by(o.c.id)
                .limit(PURGE_BATCH)
            ).all()
            old = [int(r.id) for r in rows if as_utc(r.created_at) < cutoff]
            if old:
                waiting = set(
                    self._conn.execute(
                        select(d.c.event_id).where(d.c.event_id.in_(old), d.c.status == PENDING)
                    ).scalars()
                )
                gone = [i for i in old if i not in waiting]
                if gone:
                    self._conn.execute(d.delete().where(d.c.event_id.in_(gone)))
                    self._conn.execute(o.delete().where(o.c.id.in_(gone)))
                    total += len(gone)
            if len(old) < len(rows) or len(rows) < PURGE_BATCH:
                return total
            after = old[-1]
