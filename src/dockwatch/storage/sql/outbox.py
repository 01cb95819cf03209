"""The transactional outbox: events are rows written with the change they report.

Subscribers (scanning, webhooks, the console) read events after their own cursor, so nothing
is lost across a restart and a duplicate can only follow a crash before the cursor moved. A row
holds one event's name, subject and JSON payload (`model.events`), or a batch of a write's
finding events (`outbox_batches`: one row, one id per event); reading turns them back into
typed events, one per id.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, case, func, select

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
from dockwatch.storage.sql import outbox_batches as batches
from dockwatch.storage.sql import tables
from dockwatch.storage.sql.bulk import insert_rows
from dockwatch.storage.sql.job_queue import ANNOUNCED, JOBS_CHANNEL
from dockwatch.storage.sql.outbox_purge import PURGE_BATCH, purge_before
from dockwatch.storage.sql.shared_rows import put_row

__all__ = [
    "PURGE_BATCH", "SqlOutbox", "event_of", "events_by_id", "expand", "payload_doc", "payload_json",
]  # fmt: skip

_COLUMNS = (
    "id", "account_id", "region", "event_type", "subject", "payload", "created_at", "events",
    "packed",
)  # fmt: skip

OUTBOX_LOCK_KEY = 0x646F636B6F757462  # "dockoutb": PostgreSQL's lock of event id allocation
CURSOR_LOCK_CLASS = 0x64637572
"""The first key of a subscriber cursor's lock ("dcur"; PostgreSQL's two-key form)."""
_SEQUENCE = "pg_get_serial_sequence('outbox', 'id')"
_ALLOCATE_PG = (
    "WITH held AS MATERIALIZED (SELECT pg_advisory_xact_lock(%s)) "
    f"SELECT setval({_SEQUENCE}, nextval({_SEQUENCE}) + %s), pg_notify('{JOBS_CHANNEL}', "
    "'outbox') FROM held"
)
"""Take the allocation lock, then `n` consecutive ids (the last is returned), and announce."""
_NEWEST_SQLITE = (
    "SELECT max(coalesce((SELECT max(id) FROM outbox), 0), "
    "coalesce((SELECT max(last_id) FROM outbox_cursors), 0))"
)

_FINDING_TYPES = (FindingCreated, FindingUpdated, FindingClosed)


def _finding_payload(e: FindingChanged) -> dict[str, Any]:
    """`e.payload()` written out: a rescan stores one finding event per finding written, and
    the generic codec (field introspection, one call per value) cost 90 us of each at 13,500
    events; this costs 3 us (a batch row's line, `outbox_batches.line`, 0.6 us). `tests/unit/storage/sql/test_outbox_payload.py` holds the two
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


def payload_doc(event: Event) -> dict[str, Any]:
    """The stored payload of an event, as a document."""
    if isinstance(event, FindingChanged) and type(event) in _FINDING_TYPES:
        return _finding_payload(event)
    return event.payload()


def payload_json(event: Event) -> str:
    """The stored payload of an event: its JSON, keys sorted, no spaces."""
    return json.dumps(payload_doc(event), sort_keys=True, separators=(",", ":"))


def event_of(
    outbox_id: int,
    account_id: str,
    region: str,
    event_type: str,
    subject: str,
    payload: str,
    created_at: datetime,
) -> OutboxEvent:
    """The typed event of a row holding one event."""
    try:
        doc = json.loads(payload)
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    tenant = Tenant(account_id, region)
    return OutboxEvent(int(outbox_id), decode(event_type, tenant, as_utc(created_at), subject, doc))


def expand(
    row: Any, after_id: int = 0, wanted: Collection[str] | None = None, room: int | None = None
) -> list[OutboxEvent]:
    """The events of one stored row (a single event or a batch) with an id above `after_id`,
    of the `wanted` types, in id order, at most `room` of them."""
    if row.packed is None:
        if row.id <= after_id or (wanted is not None and row.event_type not in wanted):
            return []
        return [
            event_of(
                row.id, row.account_id, row.region, row.event_type, row.subject, row.payload,
                row.created_at,
            )
        ]  # fmt: skip
    lines = batches.unpack(row.packed)
    first = int(row.id) - len(lines) + 1
    tenant, at = Tenant(row.account_id, row.region), as_utc(row.created_at)
    out: list[OutboxEvent] = []
    for k in range(max(0, after_id + 1 - first), len(lines)):
        if room is not None and len(out) >= room:
            break
        event_type, subject, payload = batches.parse(lines[k])
        if wanted is None or event_type in wanted:
            out.append(OutboxEvent(first + k, decode(event_type, tenant, at, subject, payload)))
    return out


def events_by_id(conn: Connection, ids: Iterable[int]) -> dict[int, OutboxEvent]:
    """The stored events of these ids (an id whose event is gone is left out): one query for
    the ids that key a row (single events, the last event of a batch), then one indexed lookup
    per batch row holding the others."""
    t = tables.outbox
    out: dict[int, OutboxEvent] = {}
    wanted = sorted(set(ids))
    for chunk in (wanted[k : k + 500] for k in range(0, len(wanted), 500)):
        for keyed in conn.execute(select(t).where(t.c.id.in_(chunk))):
            out.update((e.id, e) for e in expand(keyed, int(keyed.id) - 1))
    todo = [i for i in wanted if i not in out]
    i = 0
    while i < len(todo):
        row = conn.execute(select(t).where(t.c.id >= todo[i]).order_by(t.c.id).limit(1)).first()
        if row is None:
            break
        j = i
        while j < len(todo) and todo[j] <= row.id:
            j += 1
        lo = int(row.id) - int(row.events)  # the row holds (lo, id]
        held = [e for e in todo[i:j] if e > lo]
        if held:
            found = {e.id: e for e in expand(row, held[0] - 1)}
            out.update((e, found[e]) for e in held if e in found)
        i = j
    return out


class SqlOutbox:
    """`storage.outbox.Outbox` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def append(self, event: Event) -> int:
        return self._insert([event])

    def append_many(self, events: Iterable[Event]) -> int:
        batch = list(events)
        if batch:
            self._insert(batch)
        return len(batch)

    def _insert(self, events: Sequence[Event]) -> int:
        """Store `events` in append order (finding runs as batch rows); returns the last id."""
        last = self._allocate(len(events))
        next_id = last - len(events)
        rows: list[tuple[Any, ...]] = []
        for start, stop in batches.runs(events):
            e = events[start]
            next_id += stop - start
            tenant = (e.tenant.account_id, e.tenant.region)
            if stop - start == 1:
                rows.append((next_id, *tenant, e.name, e.subject, payload_json(e), e.at, 1, None))
                continue
            run = events[start:stop]
            kind = batches.row_type([x.name for x in run])
            rows.append(
                (next_id, *tenant, kind, "", "", e.at, len(run), batches.pack(batches.lines(run)))
            )
        insert_rows(self._conn, tables.outbox, _COLUMNS, rows)
        self._announce()
        return last

    def _allocate(self, n: int) -> int:
        """Reserve the next `n` event ids; returns the last of them.

        PostgreSQL: under a transaction-level advisory lock, held until commit, so ids follow
        commit order across concurrent writers (a reader past id N never sees an event below N
        commit later) and the `n` ids taken from the sequence are consecutive. SQLite has one
        writer; its ids continue from the newest row and every cursor (a purge may have deleted
        the newest row: an id is never handed out twice)."""
        if self._conn.dialect.name == "postgresql":  # one round trip: lock, ids, wake-up
            value = self._conn.exec_driver_sql(_ALLOCATE_PG, (OUTBOX_LOCK_KEY, n - 1)).scalar()
            return int(value or 0)
        newest = self._conn.exec_driver_sql(_NEWEST_SQLITE).scalar()
        return int(newest or 0) + n

    def _announce(self) -> None:
        """Wake idle workers at commit: PostgreSQL's `NOTIFY` went with the allocation (it
        folds the notifications of one transaction into one); on SQLite this process's
        workers, woken by `SqlStore.write` after the commit."""
        if self._conn.dialect.name != "postgresql":
            self._conn.info[ANNOUNCED] = True

    def read_after(
        self, after_id: int, event_types: Iterable[str] | None = None, limit: int = 500
    ) -> list[OutboxEvent]:
        return self._read(after_id, None if event_types is None else list(event_types), limit)

    def read_of_tenant(
        self,
        tenant: Tenant,
        event_types: Iterable[str],
        since: datetime,
        after_id: int = 0,
        limit: int = 500,
    ) -> list[OutboxEvent]:
        t = tables.outbox
        return self._read(
            after_id,
            list(event_types),
            limit,
            t.c.account_id == tenant.account_id,
            t.c.region == tenant.region,
            t.c.created_at >= since,
        )

    def _read(
        self,
        after_id: int,
        event_types: list[str] | None,
        limit: int,
        *where: ColumnElement[bool],
    ) -> list[OutboxEvent]:
        """Events above `after_id`, oldest first: rows are read `limit` at a time (each holds
        one event or more) until `limit` events are found or the rows run out."""
        t = tables.outbox
        wanted = None if event_types is None else {str(e) for e in event_types}
        query = select(t).where(*where).order_by(t.c.id).limit(max(limit, 1))
        if wanted is not None:
            query = query.where(t.c.event_type.in_(batches.stored_types(sorted(wanted))))
        out: list[OutboxEvent] = []
        position = after_id
        while len(out) < limit:
            rows = self._conn.execute(query.where(t.c.id > position)).all()
            for row in rows:
                out += expand(row, after_id, wanted, limit - len(out))
                if len(out) >= limit:
                    break
            if len(rows) < limit:
                break
            position = int(rows[-1].id)
        return out

    def last_id(self) -> int:
        return int(self._conn.execute(select(func.max(tables.outbox.c.id))).scalar() or 0)

    def count_after(self, after_id: int, event_types: Iterable[str]) -> int:
        t = tables.outbox
        wanted = sorted({str(e) for e in event_types})
        after = (t.c.id - after_id).cast(Integer)  # a row straddling the cursor counts its rest
        query = select(
            func.sum(case((t.c.id - t.c.events < after_id, after), else_=t.c.events))
        ).where(t.c.id > after_id, t.c.event_type.in_(wanted))
        total = int(self._conn.execute(query).scalar() or 0)
        if batches.MIXED in batches.stored_types(wanted):
            mixed = select(t.c.id, t.c.packed).where(
                t.c.id > after_id, t.c.event_type == batches.MIXED
            )
            for row in self._conn.execute(mixed):
                lines = batches.unpack(row.packed)
                skip = max(0, after_id - (int(row.id) - len(lines)))
                total += sum(1 for x in lines[skip:] if batches.parse(x)[0] in wanted)
        return total

    def hold_cursor(self, subscriber: str) -> bool:
        if self._conn.dialect.name != "postgresql":
            return True  # one writer at a time
        key = zlib.crc32(subscriber.encode()) - (1 << 31)
        taken = self._conn.exec_driver_sql(
            "SELECT pg_try_advisory_xact_lock(%s, %s)", (CURSOR_LOCK_CLASS, key)
        )
        return bool(taken.scalar())

    def cursor(self, subscriber: str) -> int:
        t = tables.outbox_cursors
        value = self._conn.execute(select(t.c.last_id).where(t.c.subscriber == subscriber)).scalar()
        return int(value or 0)

    def advance(self, subscriber: str, last_id: int, at: datetime) -> None:
        # two processes may advance a new cursor at once: the later one's position is kept
        row = {"subscriber": subscriber, "last_id": last_id, "updated_at": at}
        put_row(self._conn, tables.outbox_cursors, row, ("subscriber",))

    def purge_before(self, cutoff: datetime) -> int:
        return purge_before(self._conn, cutoff)
