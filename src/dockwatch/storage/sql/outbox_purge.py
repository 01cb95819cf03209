"""The outbox's retention purge: old rows every subscriber has passed leave, with the finished
delivery attempts of their events.

A row leaves whole: a batch row (`outbox_batches`) only when every event it holds may go, so a
row holding an event a webhook delivery still waits on stays. Rows are walked in id order, a
bounded page at a time, and deleted by id ranges (a batch row's events have no row of their
own to list).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from dockwatch.model.times import as_utc
from dockwatch.storage.sql import tables
from dockwatch.storage.webhook_repo import PENDING

PURGE_BATCH = 5_000
"""Rows read per page by `purge_before` (bounded memory and statement size)."""


def purge_before(conn: Connection, cutoff: datetime) -> int:
    """Delete the rows written before `cutoff` whose events every subscriber's cursor has passed
    and no webhook delivery still waits on, with their finished delivery attempts; returns how
    many events were deleted."""
    o = tables.outbox
    passed = conn.execute(select(func.min(tables.outbox_cursors.c.last_id))).scalar()
    if passed is None:
        return 0  # no subscriber has read anything yet
    total, after = 0, 0
    while True:
        # ids grow with time, so the oldest rows come first and the walk stops at the first
        # row that is too new or not yet read by every subscriber
        rows = conn.execute(
            select(o.c.id, o.c.events, o.c.created_at)
            .where(o.c.id > after, o.c.id <= int(passed))
            .order_by(o.c.id)
            .limit(PURGE_BATCH)
        ).all()
        old = [r for r in rows if as_utc(r.created_at) < cutoff]
        if old:
            total += _delete(conn, rows, {int(r.id) for r in old})
        if len(old) < len(rows) or len(rows) < PURGE_BATCH:
            return total
        after = int(old[-1].id)


def _delete(conn: Connection, rows: Sequence[Any], old: set[int]) -> int:
    """Delete the `old` rows of the page `rows` (id order) but those holding an event a delivery
    waits on; returns how many events went."""
    o, d = tables.outbox, tables.webhook_deliveries
    tops = [int(r.id) for r in rows]
    lo, hi = int(rows[0].id) - int(rows[0].events), tops[-1]
    waiting = conn.execute(
        select(d.c.event_id).where(d.c.event_id > lo, d.c.event_id <= hi, d.c.status == PENDING)
    ).scalars()
    kept = {tops[k] for k in (bisect.bisect_left(tops, int(e)) for e in waiting) if k < len(tops)}
    gone = 0
    span: list[Any] = []
    for row in [*rows, None]:  # consecutive rows that go are deleted by one id range
        if row is not None and int(row.id) in old and int(row.id) not in kept:
            span.append(row)
            continue
        if span:
            first, last = int(span[0].id) - int(span[0].events), int(span[-1].id)
            conn.execute(
                d.delete().where(d.c.event_id > first, d.c.event_id <= last, d.c.status != PENDING)
            )
            conn.execute(o.delete().where(o.c.id > first, o.c.id <= last))
            gone += sum(int(r.events) for r in span)
            span = []
    return gone
