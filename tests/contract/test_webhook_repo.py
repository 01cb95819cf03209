"""`WebhookRepo` contract: subscriptions per tenant, the delivery log's life (scheduled, leased,
finished once), and the pages of the log the API shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dockwatch.model.events import TagChanged
from dockwatch.model.identity import Tenant
from dockwatch.storage.unit_of_work import Store, UnitOfWork
from dockwatch.storage.webhook_repo import DELIVERED, FAILED, GAVE_UP, PENDING, WebhookRow

T = Tenant("123456789012", "us-east-1")
OTHER = Tenant("210987654321", "us-east-1")
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LEASE = T0 + timedelta(minutes=1)


def _subscribe(uow: UnitOfWork, tenant: Tenant, webhook_id: str, at: datetime = T0) -> WebhookRow:
    return uow.webhooks.insert_webhook(
        tenant,
        webhook_id=webhook_id,
        url=f"https://hooks.example/{webhook_id}",
        secret=f"plain-{webhook_id}",
        event_types=["ScanCompleted", "FindingCreated"],
        description=f"hook {webhook_id}",
        insecure_skip_verify=False,
        at=at,
    )


def _event(uow: UnitOfWork, n: int) -> int:
    return uow.outbox.append(TagChanged(T, T0, repository_name="app", image_tag=f"v{n}"))


def _schedule(
    uow: UnitOfWork, webhook_id: str, event_id: int, due: datetime, attempt: int = 1
) -> None:
    uow.webhooks.insert_attempt(
        webhook_id=webhook_id,
        event_id=event_id,
        attempt=attempt,
        next_attempt_at=due,
        started_at=T0,
        at=T0,
    )


def test_subscriptions_round_trip_per_tenant(store: Store) -> None:
    with store.write() as uow:
        before = _event(uow, 0)
    with store.write() as uow:
        made = _subscribe(uow, T, "h2", T0 + timedelta(seconds=1))
        _subscribe(uow, T, "h1", T0)
        _subscribe(uow, OTHER, "h3", T0)
    assert made.start_after_id == before  # events before the subscription are not sent
    with store.read() as uow:
        got = uow.webhooks.get_webhook(T, "h2")
        assert got == made
        assert (
            got is not None
            and got.enabled
            and got.event_types
            == (
                "ScanCompleted",
                "FindingCreated",
            )
        )
        assert got.created_at == T0 + timedelta(seconds=1)
        assert uow.webhooks.get_webhook(OTHER, "h2") is None
        assert uow.webhooks.get_webhook(T, "nope") is None
        assert [w.id for w in uow.webhooks.list_webhooks(T)] == ["h1", "h2"]
        assert [w.id for w in uow.webhooks.list_webhooks(Tenant("999999999999", "x"))] == []
        assert (uow.webhooks.count_webhooks(T), uow.webhooks.count_webhooks(OTHER)) == (2, 1)
        assert sorted(w.id for w in uow.webhooks.enabled_webhooks()) == ["h1", "h2", "h3"]


def test_deleting_a_subscription_removes_its_log(store: Store) -> None:
    with store.write() as uow:
        _subscribe(uow, T, "h1")
        _subscribe(uow, T, "h2")
        event = _event(uow, 1)
        _schedule(uow, "h1", event, T0)
        _schedule(uow, "h2", event, T0)
    with store.write() as uow:
        assert not uow.webhooks.delete_webhook(OTHER, "h1")  # not theirs
        assert uow.webhooks.delete_webhook(T, "h1")
        assert not uow.webhooks.delete_webhook(T, "h1")
    with store.read() as uow:
        assert uow.webhooks.get_webhook(T, "h1") is None
        assert uow.webhooks.list_attempts("h1", after_id=0, limit=10) == []
        assert len(uow.webhooks.list_attempts("h2", after_id=0, limit=10)) == 1
        assert uow.webhooks.count_webhooks(T) == 1


def test_secrets_not_yet_sealed_are_found_and_replaced(store: Store) -> None:
    with store.write() as uow:
        _subscribe(uow, T, "old")
        _subscribe(uow, T, "new")
        uow.webhooks.set_secret("new", "sealed:abc")
    with store.read() as uow:
        assert uow.webhooks.unsealed_secrets("sealed:") == [("old", "plain-old")]
    with store.write() as uow:
        uow.webhooks.set_secret("old", "sealed:def")
    with store.read() as uow:
        assert uow.webhooks.unsealed_secrets("sealed:") == []
        row = uow.webhooks.get_webhook(T, "old")
        assert row is not None and row.secret == "sealed:def"


def test_due_attempts_are_claimed_oldest_first_and_leased(store: Store) -> None:
    with store.write() as uow:
        hook = _subscribe(uow, T, "h1")
        events = [_event(uow, n) for n in range(3)]
        _schedule(uow, "h1", events[0], T0 + timedelta(seconds=20))
        _schedule(uow, "h1", events[1], T0 + timedelta(seconds=10))
        _schedule(uow, "h1", events[2], T0 + timedelta(hours=1))  # not due yet
    now = T0 + timedelta(seconds=30)
    with store.read() as uow:
        assert not uow.webhooks.any_due(T0)
        assert uow.webhooks.any_due(now)
    with store.write() as uow:
        claimed = uow.webhooks.claim_due(now, now + timedelta(minutes=1), limit=10)
    assert [a.event.id if a.event else None for a in claimed] == [events[1], events[0]]
    assert all(a.webhook == hook and a.attempt == 1 and a.started_at == T0 for a in claimed)
    first = claimed[0].event
    assert first is not None and first.event == TagChanged(
        T, T0, repository_name="app", image_tag="v1"
    )
    with store.write() as uow:  # leased: a second sender gets nothing until the lease ends
        assert uow.webhooks.claim_due(now, now + timedelta(minutes=1), limit=10) == []
        assert not uow.webhooks.any_due(now)
        again = uow.webhooks.claim_due(now + timedelta(minutes=2), LEASE, limit=1)
    assert [a.id for a in again] == [claimed[0].id]  # the limit holds
    with store.write() as uow:
        rest = uow.webhooks.claim_due(
            now + timedelta(minutes=2), LEASE, limit=10, exclude=[claimed[0].id]
        )
    assert [a.id for a in rest] == [claimed[1].id]


def test_an_attempt_is_finished_once_and_leases_can_be_released(store: Store) -> None:
    with store.write() as uow:
        _subscribe(uow, T, "h1")
        e1, e2 = _event(uow, 1), _event(uow, 2)
        _schedule(uow, "h1", e1, T0)
        _schedule(uow, "h1", e2, T0)
        a1, a2 = uow.webhooks.claim_due(T0, T0 + timedelta(hours=1), limit=10)
    done_at = T0 + timedelta(seconds=5)
    with store.write() as uow:
        assert uow.webhooks.finish_attempt(
            a1.id, status=DELIVERED, http_status=204, error=None, duration_ms=12, at=done_at
        )
        assert not uow.webhooks.finish_attempt(
            a1.id, status=FAILED, http_status=500, error="late", duration_ms=1, at=done_at
        )
        assert not uow.webhooks.finish_attempt(
            10_000_000, status=GAVE_UP, http_status=None, error=None, duration_ms=None, at=T0
        )
        # the sender of a2 was killed: its lease goes, and a2 is due again at once
        assert uow.webhooks.release_leases(done_at) == 1
        assert uow.webhooks.release_leases(done_at) == 0
        assert [a.id for a in uow.webhooks.claim_due(done_at, LEASE, limit=10)] == [a2.id]
    with store.read() as uow:
        log = {row.id: row for row in uow.webhooks.list_attempts("h1", after_id=0, limit=10)}
    assert log[a1.id].status == DELIVERED and log[a2.id].status == PENDING
    delivered = log[a1.id]
    assert (delivered.http_status, delivered.error, delivered.duration_ms) == (204, None, 12)
    assert delivered.attempted_at == done_at and delivered.updated_at == done_at
    assert (delivered.event_id, delivered.event_type, delivered.account_id) == (
        e1,
        "TagChanged",
        T.account_id,
    )
    assert log[a2.id].attempted_at is None


def test_the_log_pages_in_schedule_order_with_a_status_filter(store: Store) -> None:
    with store.write() as uow:
        _subscribe(uow, T, "h1")
        _subscribe(uow, T, "h2")
        events = [_event(uow, n) for n in range(5)]
        for e in events:
            _schedule(uow, "h1", e, T0 + timedelta(seconds=e))
        _schedule(uow, "h2", events[0], T0)
        _schedule(uow, "h1", events[0], T0, attempt=2)
    with store.write() as uow:
        first = uow.webhooks.list_attempts("h1", after_id=0, limit=1)[0]
        assert uow.webhooks.finish_attempt(
            first.id, status=FAILED, http_status=503, error="busy", duration_ms=3, at=T0
        )
    with store.read() as uow:
        everything = uow.webhooks.list_attempts("h1", after_id=0, limit=100)
        ids = [a.id for a in everything]
        assert ids == sorted(ids) and len(ids) == 6
        assert [(a.event_id, a.attempt) for a in everything] == [
            *((e, 1) for e in events),
            (events[0], 2),
        ]
        assert [a.id for a in uow.webhooks.list_attempts("h1", after_id=ids[1], limit=2)] == ids[
            2:4
        ]
        assert uow.webhooks.list_attempts("h1", after_id=ids[-1], limit=10) == []
        failed = uow.webhooks.list_attempts("h1", after_id=0, limit=10, status=FAILED)
        assert [(a.id, a.http_status, a.error) for a in failed] == [(first.id, 503, "busy")]
        assert first.id == ids[0]
        pending = uow.webhooks.list_attempts("h1", after_id=0, limit=10, status=PENDING)
        assert [a.id for a in pending] == [i for i in ids if i != first.id]
        assert [a.webhook_id for a in uow.webhooks.list_attempts("h2", after_id=0, limit=10)] == [
            "h2"
        ]


def test_an_attempt_whose_event_is_gone_is_still_claimed(store: Store) -> None:
    with store.write() as uow:
        _subscribe(uow, T, "h1")
        _schedule(uow, "h1", 424_242, T0)  # no such outbox row
        (due,) = uow.webhooks.claim_due(T0, LEASE, limit=10)
    assert due.event is None
    with store.read() as uow:
        (row,) = uow.webhooks.list_attempts("h1", after_id=0, limit=10)
    assert (row.event_id, row.event_type, row.account_id, row.region) == (424_242, None, None, None)


def test_a_missing_finding_detail_reads_as_empty(store: Store) -> None:
    with store.read() as uow:
        assert dict(uow.webhooks.finding_detail("sha256:" + "0" * 64)) == {}


def test_a_rolled_back_unit_of_work_keeps_no_subscription(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as uow:
        _subscribe(uow, T, "h1")
        raise RuntimeError("the request failed")
    with store.read() as uow:
        assert uow.webhooks.get_webhook(T, "h1") is None
        assert uow.webhooks.count_webhooks(T) == 0
