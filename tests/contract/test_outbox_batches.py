"""Batch rows of the outbox deliver exactly what one row per event would: random sequences of
appends (single events and runs of finding events, stored as batch rows) and reads with random
cursors, limits, type filters and tenants are checked against a plain list of the appended
events, one entry per event, in append order (the one-row-per-event outbox)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from dockwatch.model.events import (
    Event,
    FindingChanged,
    FindingClosed,
    FindingCreated,
    FindingUpdated,
    ManifestPushed,
    ScanCompleted,
)
from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import outbox_batches, tables
from dockwatch.storage.sql.outbox import events_by_id
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.storage.unit_of_work import Store

T = Tenant("123456789012", "us-east-1")
OTHER = Tenant("210987654321", "eu-west-1")
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DIGEST = "sha256:" + "ab" * 32
FINDINGS = (FindingCreated, FindingUpdated, FindingClosed)
TYPES = [k.NAME for k in FINDINGS] + [ManifestPushed.NAME, ScanCompleted.NAME]


def finding(kind: type[FindingChanged], n: int, tenant: Tenant = T, minute: int = 0) -> Event:
    at = T0 + timedelta(minutes=minute)
    return kind(
        tenant, at, finding_id=f"f{n}", detail_ref=f"d{n % 7}", vulnerability_id=f"CVE-2026-{n}",
        status="CLOSED" if kind is FindingClosed else "ACTIVE", severity="HIGH",
        fix_available="YES", first_observed_at=at, last_observed_at=at, updated_at=at,
        repository_name=f"app{n % 3}", image_digest=DIGEST, image_tags=("latest",),
        pushed_at=at, changes=("status",) if kind is FindingUpdated else (),
    )  # fmt: skip


def other(n: int, tenant: Tenant = T, minute: int = 0) -> Event:
    at = T0 + timedelta(minutes=minute)
    if n % 2:
        return ScanCompleted(
            tenant, at, repository_name=f"app{n}", image_digest=DIGEST,
            finding_severity_counts={"HIGH": n}, db_version=1,
        )  # fmt: skip
    return ManifestPushed(
        tenant, at, repository_name=f"app{n}", image_digest=DIGEST, image_tags=("v1",),
        media_type="application/vnd.oci.image.manifest.v1+json", first_push=False, pushed_at=at,
    )  # fmt: skip


@st.composite
def _event(draw: st.DrawFn) -> Event:
    n = draw(st.integers(0, 10_000))
    tenant = draw(st.sampled_from((T, T, T, OTHER)))
    minute = draw(st.sampled_from((0, 0, 0, 1)))
    if draw(st.integers(0, 5)) == 0:
        return other(n, tenant, minute)
    return finding(draw(st.sampled_from(FINDINGS)), n, tenant, minute)


@st.composite
def _run(draw: st.DrawFn) -> list[Event]:
    """Mostly long runs of one tenant's finding events, as a findings write makes them."""
    if draw(st.booleans()):
        return draw(st.lists(_event(), max_size=12))
    kinds = draw(st.lists(st.sampled_from(FINDINGS), min_size=1, max_size=3))
    size = draw(st.integers(1, 40))
    return [finding(kinds[n % len(kinds)], n) for n in range(size)]


_appends = st.lists(st.tuples(st.booleans(), _run()), min_size=1, max_size=5)
_reads = st.lists(
    st.tuples(
        st.floats(0, 1),  # where the cursor stands, as a share of the events appended
        st.integers(-1, 1),  # on an event's id, or one below or above it
        st.integers(1, 30),  # limit
        st.none() | st.sets(st.sampled_from(TYPES), max_size=3),
    ),
    min_size=1,
    max_size=6,
)


def _all(store: Store, after: int) -> list[Any]:
    with store.read() as uow:
        return uow.outbox.read_after(after, limit=1_000_000)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(appends=_appends, reads=_reads)
def test_batch_rows_read_as_one_row_per_event(
    store: Store, appends: list[tuple[bool, list[Event]]], reads: list[Any]
) -> None:
    with store.read() as uow:
        base = uow.outbox.last_id()  # the store outlives an example: earlier events stay
    model: list[Event] = []
    for one_by_one, events in appends:
        with store.write() as uow:
            if one_by_one:
                singles = [uow.outbox.append(e) for e in events]
                assert singles == sorted(singles)
            else:
                assert uow.outbox.append_many(events) == len(events)
        model += events
    stored = _all(store, base)
    assert [e.event for e in stored] == model
    ids = [e.id for e in stored]
    assert ids == sorted(set(ids)) and all(i > base for i in ids)
    with store.read() as uow:
        assert uow.outbox.last_id() == (ids[-1] if ids else base)
    for share, shift, limit, types in reads:
        k = int(share * len(ids))
        cursor = (ids[k] if k < len(ids) else (ids[-1] if ids else base) + 1) + shift
        cursor = max(cursor, base)
        expected = [
            (i, e) for i, e in zip(ids, model, strict=True)
            if i > cursor and (types is None or e.name in types)
        ]  # fmt: skip
        with store.read() as uow:
            got = uow.outbox.read_after(cursor, None if types is None else sorted(types), limit)
            assert [(e.id, e.event) for e in got] == expected[:limit]
            if types is not None:
                assert uow.outbox.count_after(cursor, sorted(types)) == len(expected)
                mine = [
                    (i, e) for i, e in expected if e.tenant == T and e.at >= T0 + timedelta(minutes=1)
                ]  # fmt: skip
                tenant_read = uow.outbox.read_of_tenant(
                    T, sorted(types), T0 + timedelta(minutes=1), cursor, limit
                )
                assert [(e.id, e.event) for e in tenant_read] == mine[:limit]
        # a subscriber paging with its cursor (the webhook fan-out) meets every event once
        paged: list[Any] = []
        position = cursor
        while True:
            with store.read() as uow:
                page = uow.outbox.read_after(
                    position, None if types is None else sorted(types), limit
                )
            if not page:
                break
            paged += [(e.id, e.event) for e in page]
            position = page[-1].id
        assert paged == expected
    wanted = [*ids[::3], (ids[-1] if ids else base) + 1]  # the last: no event yet
    assert isinstance(store, SqlStore)
    with store.db.read() as conn:
        found = events_by_id(conn, wanted)
    assert {i: e.event for i, e in found.items()} == {
        i: e for i, e in zip(ids, model, strict=True) if i in wanted
    }


def test_a_findings_write_is_stored_in_few_rows(store: Store) -> None:
    events = [finding(FINDINGS[n % 3], n) for n in range(2_500)]
    with store.write() as uow:
        uow.outbox.append(other(1))
        uow.outbox.append_many(events)
    assert isinstance(store, SqlStore)
    with store.db.read() as conn:
        rows = conn.execute(select(func.count(), func.sum(tables.outbox.c.events))).one()
    per_row = outbox_batches.MAX_EVENTS
    assert tuple(rows) == (1 + -(-2_500 // per_row), 2_501)
    assert [e.event for e in _all(store, 0)] == [other(1), *events]


def _hook(store: Store) -> str:
    with store.write() as uow:
        uow.webhooks.insert_webhook(
            T, webhook_id="w1", url="https://example.test/hook", secret="s", event_types=(),
            description="", insecure_skip_verify=False, at=T0,
        )  # fmt: skip
    return "w1"


def test_purge_deletes_a_batch_row_only_when_every_event_of_it_may_go(store: Store) -> None:
    """Three batches of 10 old finding events and one new: the batch with an event a webhook
    delivery waits on stays whole; the others go with their finished attempts."""
    hook = _hook(store)
    with store.write() as uow:
        for b in range(3):
            uow.outbox.append_many([finding(FindingCreated, 10 * b + n) for n in range(10)])
        uow.outbox.append(other(0, minute=60))
    ids = [e.id for e in _all(store, 0)]
    pending, delivered = ids[14], ids[3]
    with store.write() as uow:
        for event_id in (pending, delivered):
            uow.webhooks.insert_attempt(
                webhook_id=hook, event_id=event_id, attempt=1, next_attempt_at=T0,
                started_at=T0, at=T0,
            )  # fmt: skip
        done = {a.event_id: a for a in uow.webhooks.list_attempts(hook, after_id=0, limit=10)}
        assert done[pending].event_type == FindingCreated.NAME
        assert done[pending].account_id == T.account_id
        assert uow.webhooks.finish_attempt(
            done[delivered].id, status="DELIVERED", http_status=200, error=None, duration_ms=1,
            at=T0,
        )  # fmt: skip
        for subscriber in ("scanner", "webhooks"):
            uow.outbox.advance(subscriber, ids[-1], T0)
    with store.write() as uow:
        assert uow.outbox.purge_before(T0 + timedelta(minutes=30)) == 20
    with store.read() as uow:
        assert [a.event_id for a in uow.webhooks.list_attempts(hook, after_id=0, limit=10)] == [
            pending
        ]
        due = uow.webhooks.claim_due(T0, T0 + timedelta(minutes=1), 10)
    assert [a.event.id if a.event else None for a in due] == [pending]
    assert [e.id for e in _all(store, 0)] == ids[10:20] + ids[30:]


def test_ids_are_never_handed_out_twice_after_a_purge(store: Store) -> None:
    with store.write() as uow:
        uow.outbox.append_many([finding(FindingCreated, n) for n in range(5)])
        last = uow.outbox.last_id()
        uow.outbox.advance("scanner", last, T0)
    with store.write() as uow:
        assert uow.outbox.purge_before(T0 + timedelta(days=1)) == 5
    with store.write() as uow:
        again = uow.outbox.append(other(0))
        assert uow.outbox.read_after(uow.outbox.cursor("scanner"))[0].id == again
    assert again > last


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_ids_follow_commit_order_on_postgresql(store: Store) -> None:
    """A writer appending while another's events are uncommitted waits for that commit, so a
    reader that has passed an id never sees a lower one commit later."""
    import threading

    assert isinstance(store, SqlStore)
    done = threading.Event()
    late: list[int] = []

    def second() -> None:
        with store.write() as uow:
            late.append(uow.outbox.append(other(2)))
        done.set()

    with store.write() as first:
        early = [first.outbox.append(other(0))]
        thread = threading.Thread(target=second)
        thread.start()
        query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        with store.db.engine.connect() as probe:  # until the second writer waits (or is done)
            while not done.is_set() and not probe.exec_driver_sql(query).scalar():
                probe.rollback()
        assert not done.is_set(), "the second writer committed an event before the first"
        first.outbox.append_many([finding(FindingCreated, n) for n in range(3)])
        early.append(first.outbox.last_id())
    thread.join()
    assert late[0] > max(early)


def test_migrate_store_copies_batch_rows_and_ids_continue(
    tmp_path: Path, postgres_url: str
) -> None:
    """`dockwatch migrate-store` copies the outbox table by table: both ways, the copy reads
    the same events with the same ids, and the next event gets a higher id."""
    from dockwatch.storage.sql.engine import Database
    from dockwatch.storage.sql.migrations import migrate
    from dockwatch.storage.store_copy import copy_tables

    sqlite = Database(f"sqlite:///{tmp_path / 'a.db'}")
    back = Database(f"sqlite:///{tmp_path / 'b.db'}")
    pg = Database(postgres_url)
    try:
        migrate(sqlite)
        source = SqlStore(sqlite)
        with source.write() as uow:
            uow.outbox.append(other(0))
            uow.outbox.append_many([finding(FINDINGS[n % 3], n) for n in range(30)])
        written = [(e.id, e.event) for e in _all(source, 0)]
        for src, dst in ((sqlite, pg), (pg, back)):
            copy_tables(src, dst)
            copy = SqlStore(dst)
            assert [(e.id, e.event) for e in _all(copy, 0)] == written
            with copy.write() as uow:
                assert uow.outbox.append(other(1)) > written[-1][0]
            with dst.write() as conn:  # as copied again
                conn.execute(tables.outbox.delete().where(tables.outbox.c.id > written[-1][0]))
    finally:
        for db in (sqlite, back, pg):
            db.close()
