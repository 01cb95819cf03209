"""`Outbox` contract: typed events come back as written, in append order, after a cursor;
cursors are per subscriber; an event commits with the unit of work that wrote it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dockwatch.model.events import Event, ManifestPushed, ScanCompleted, TagChanged
from dockwatch.model.identity import Tenant
from dockwatch.storage.unit_of_work import Store

T = Tenant("123456789012", "us-east-1")
OTHER = Tenant("210987654321", "eu-west-1")
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DIGEST = "sha256:" + "ab" * 32


def _pushed(n: int, tenant: Tenant = T) -> ManifestPushed:
    return ManifestPushed(
        tenant,
        T0 + timedelta(seconds=n),
        repository_name=f"app{n}",
        image_digest=DIGEST,
        image_tags=("latest", f"v{n}"),
        media_type="application/vnd.oci.image.manifest.v1+json",
        first_push=n == 0,
        pushed_at=T0,
    )


def _scanned(n: int) -> ScanCompleted:
    return ScanCompleted(
        OTHER,
        T0 + timedelta(minutes=n),
        repository_name="app",
        image_digest=DIGEST,
        finding_severity_counts={"HIGH": n, "LOW": 1},
        db_version=7,
    )


def test_an_empty_outbox(store: Store) -> None:
    with store.read() as uow:
        assert uow.outbox.last_id() == 0
        assert uow.outbox.read_after(0) == []
        assert uow.outbox.count_after(0, ["ManifestPushed"]) == 0
        assert uow.outbox.cursor("webhooks") == 0


def test_events_round_trip_in_append_order(store: Store) -> None:
    tag = TagChanged(T, T0, repository_name="app", image_tag="v1", image_digest=DIGEST)
    written: list[Event] = [_pushed(0), _scanned(1), tag, _pushed(1, OTHER)]
    with store.write() as uow:
        first = uow.outbox.append(written[0])
        assert uow.outbox.append_many(written[1:]) == 3
        assert uow.outbox.append_many([]) == 0
    with store.read() as uow:
        read = uow.outbox.read_after(0)
        assert uow.outbox.last_id() == read[-1].id
    assert [e.event for e in read] == written
    assert read[0].id == first
    ids = [e.id for e in read]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert [e.event_type for e in read] == [
        "ManifestPushed",
        "ScanCompleted",
        "TagChanged",
        "ManifestPushed",
    ]
    assert [e.tenant for e in read] == [T, OTHER, T, OTHER]


def test_reading_after_a_cursor_by_type_with_a_limit(store: Store) -> None:
    with store.write() as uow:
        for n in range(6):
            uow.outbox.append(_pushed(n) if n % 2 == 0 else _scanned(n))
    with store.read() as uow:
        ids = [e.id for e in uow.outbox.read_after(0)]
        pushes = uow.outbox.read_after(0, ["ManifestPushed"])
        assert [e.event for e in pushes] == [_pushed(0), _pushed(2), _pushed(4)]
        after = uow.outbox.read_after(ids[1], ["ManifestPushed", "ScanCompleted"], limit=2)
        assert [e.id for e in after] == ids[2:4]
        assert [e.id for e in uow.outbox.read_after(ids[3], limit=10)] == ids[4:]
        assert uow.outbox.read_after(ids[-1]) == []
        assert uow.outbox.read_after(0, []) == []
        assert uow.outbox.read_after(0, ["NoSuchEvent"]) == []
        assert uow.outbox.count_after(0, ["ManifestPushed"]) == 3
        assert uow.outbox.count_after(ids[2], ["ManifestPushed", "ScanCompleted"]) == 3
        assert uow.outbox.count_after(ids[-1], ["ManifestPushed"]) == 0


def test_cursors_are_per_subscriber_and_move_both_ways(store: Store) -> None:
    with store.write() as uow:
        uow.outbox.advance("webhooks", 5, T0)
        uow.outbox.advance("rescan", 2, T0)
    with store.write() as uow:
        uow.outbox.advance("webhooks", 9, T0 + timedelta(seconds=1))
    with store.read() as uow:
        assert (uow.outbox.cursor("webhooks"), uow.outbox.cursor("rescan")) == (9, 2)
        assert uow.outbox.cursor("console") == 0
    with store.write() as uow:  # a reset (the subscriber re-reads from an earlier point)
        uow.outbox.advance("webhooks", 3, T0 + timedelta(seconds=2))
    with store.read() as uow:
        assert uow.outbox.cursor("webhooks") == 3


def test_a_rolled_back_unit_of_work_leaves_no_event_and_no_cursor(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as uow:
        uow.outbox.append(_pushed(0))
        uow.outbox.advance("webhooks", 1, T0)
        raise RuntimeError("the change the event reports failed")
    with store.read() as uow:
        assert uow.outbox.read_after(0) == []
        assert uow.outbox.cursor("webhooks") == 0


def _webhook(store: Store) -> str:
    with store.write() as uow:
        uow.webhooks.insert_webhook(
            T, webhook_id="w1", url="https://example.test/hook", secret="s", event_types=(),
            description="", insecure_skip_verify=False, at=T0,
        )  # fmt: skip
    return "w1"


def test_purge_deletes_only_old_events_every_reader_has_passed(store: Store) -> None:
    """Of 40 events one minute apart, the purge keeps: those at or after the cutoff, those a
    subscriber has not read, and one a pending webhook delivery waits on; a finished delivery
    goes with its event. The expected survivors are worked out from the rules, event by event."""
    hook = _webhook(store)
    with store.write() as uow:
        ids = [uow.outbox.append(_scanned(n)) for n in range(40)]
    pending, delivered = ids[3], ids[4]
    with store.write() as uow:
        for event_id in (pending, delivered):
            uow.webhooks.insert_attempt(
                webhook_id=hook, event_id=event_id, attempt=1, next_attempt_at=T0,
                started_at=T0, at=T0,
            )  # fmt: skip
        done = uow.webhooks.list_attempts(hook, after_id=0, limit=10)
        finished = next(a for a in done if a.event_id == delivered)
        assert uow.webhooks.finish_attempt(
            finished.id, status="DELIVERED", http_status=200, error=None, duration_ms=3, at=T0
        )
        uow.outbox.advance("scanner", ids[35], T0)
        uow.outbox.advance("webhooks", ids[30], T0)
    cutoff = T0 + timedelta(minutes=25)  # events 0-24 are older
    with store.write() as uow:
        purged = uow.outbox.purge_before(cutoff)
    read_by_all = ids[30]
    expected = [
        i
        for n, i in enumerate(ids)
        if not (T0 + timedelta(minutes=n) < cutoff and i <= read_by_all and i != pending)
    ]
    with store.read() as uow:
        left = [e.id for e in uow.outbox.read_after(0, limit=100)]
        attempts = uow.webhooks.list_attempts(hook, after_id=0, limit=10)
    assert left == expected
    assert purged == len(ids) - len(expected) == 24
    assert [a.event_id for a in attempts] == [pending]


def test_purge_waits_for_the_slowest_subscriber_and_for_any_subscriber(store: Store) -> None:
    with store.write() as uow:
        ids = [uow.outbox.append(_scanned(n)) for n in range(5)]
    late = T0 + timedelta(days=1)
    with store.write() as uow:
        assert uow.outbox.purge_before(late) == 0  # nobody has read anything yet
        uow.outbox.advance("scanner", ids[-1], T0)
        uow.outbox.advance("webhooks", ids[1], T0)
    with store.write() as uow:
        assert uow.outbox.purge_before(late) == 2
    with store.read() as uow:
        assert [e.id for e in uow.outbox.read_after(0)] == ids[2:]
