"""The transactional outbox: events are rows written with the change they report.

Subscribers (scanning, webhooks, the console) read rows after their own cursor, so nothing is
lost across a restart and a duplicate can only follow a crash before the cursor moved.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from dockwatch.model.times import as_utc
from dockwatch.storage.sql import tables


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One stored event."""

    id: int
    account_id: str
    region: str
    event_type: str
    subject: str
    payload: dict[str, Any]
    created_at: datetime


def append(
    conn: Connection,
    *,
    account_id: str,
    region: str,
    event_type: str,
    subject: str,
    payload: dict[str, Any],
    at: datetime,
) -> None:
    """Add an event inside the caller's transaction."""
    conn.execute(
        tables.outbox.insert().values(
            account_id=account_id,
            region=region,
            event_type=event_type,
            subject=subject,
            payload=json.dumps(payload, sort_keys=True, separators=(",", ":")),
            created_at=at,
        )
    )


def append_many(
    conn: Connection,
    *,
    account_id: str,
    region: str,
    events: Iterable[tuple[str, str, dict[str, Any]]],
    at: datetime,
) -> int:
    """Add many (event type, subject, payload) events in one statement; returns how many."""
    rows = [
        {
            "account_id": account_id,
            "region": region,
            "event_type": event_type,
            "subject": subject,
            "payload": json.dumps(payload, sort_keys=True, separators=(",", ":")),
            "created_at": at,
        }
        for event_type, subject, payload in events
    ]
    if rows:
        conn.execute(tables.outbox.insert(), rows)
    return len(rows)


def read_after(
    conn: Connection, after_id: int, event_types: Iterable[str] | None = None, limit: int = 500
) -> list[OutboxEvent]:
    """Events with id greater than `after_id`, oldest first."""
    t = tables.outbox
    query = select(t).where(t.c.id > after_id).order_by(t.c.id).limit(limit)
    if event_types is not None:
        query = query.where(t.c.event_type.in_(list(event_types)))
    return [
        OutboxEvent(
            r.id,
            r.account_id,
            r.region,
            r.event_type,
            r.subject,
            json.loads(r.payload),
            as_utc(r.created_at),
        )
        for r in conn.execute(query)
    ]


def cursor(conn: Connection, subscriber: str) -> int:
    """The last event id `subscriber` has processed (0 if none)."""
    t = tables.outbox_cursors
    value = conn.execute(select(t.c.last_id).where(t.c.subscriber == subscriber)).scalar()
    return int(value or 0)


def advance(conn: Connection, subscriber: str, last_id: int, at: datetime) -> None:
    """Move `subscriber`'s cursor to `last_id`."""
    t = tables.outbox_cursors
    updated = conn.execute(
        t.update().where(t.c.subscriber == subscriber).values(last_id=last_id, updated_at=at)
    ).rowcount
    if not updated:
        conn.execute(t.insert().values(subscriber=subscriber, last_id=last_id, updated_at=at))


class SqlOutbox:
    """`storage.outbox.Outbox` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def unread(self, subscriber: str, event_types: Collection[str]) -> int:
        """Events of `event_types` after `subscriber`'s cursor."""
        o = tables.outbox
        after = cursor(self._conn, subscriber)
        value = self._conn.execute(
            select(func.count()).where(o.c.id > after, o.c.event_type.in_(list(event_types)))
        ).scalar()
        return int(value or 0)
