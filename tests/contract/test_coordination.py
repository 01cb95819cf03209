"""`Store.singleton` and `Store.work_waiter` on both backends: one holder of a named singleton
at a time (PostgreSQL: advisory locks, one per database session), and idle workers woken by a
committed enqueue or outbox append, not by a rolled-back one (PostgreSQL: its NOTIFY, from any
process; SQLite: the store, in the process that committed)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from dockwatch.model.events import ManifestPushed
from dockwatch.model.identity import Tenant
from dockwatch.storage.unit_of_work import Store

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _pushed() -> ManifestPushed:
    return ManifestPushed(
        Tenant("123456789012", "us-east-1"),
        T0,
        repository_name="app",
        image_digest="sha256:" + "ab" * 32,
        image_tags=("latest",),
        media_type="application/vnd.oci.image.manifest.v1+json",
        first_push=True,
        pushed_at=T0,
    )


def test_a_singleton_has_one_holder_at_a_time(store: Store) -> None:
    with store.singleton("expiry") as first:
        assert first is True
        with store.singleton("expiry") as second:  # another session (another process)
            assert second is False
        with store.singleton("purge") as other:
            assert other is True
        seen: list[bool] = []

        def other_thread() -> None:
            with store.singleton("expiry") as held:
                seen.append(held)

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert seen == [False]
    with store.singleton("expiry") as again:  # released at the end of the block
        assert again is True


def test_a_committed_enqueue_wakes_a_waiting_worker(store: Store) -> None:
    waiter = store.work_waiter()
    assert waiter is not None
    try:
        assert waiter.wait(0.05) is False  # listening now; nothing announced yet
        with pytest.raises(RuntimeError), store.write() as uow:
            uow.jobs.enqueue("scan", "rolled-back", "{}", T0)
            raise RuntimeError("the change failed")
        assert waiter.wait(0.5) is False  # a rolled-back enqueue announces nothing
        woken: list[bool] = []
        thread = threading.Thread(target=lambda: woken.append(waiter.wait(60)))
        thread.start()
        with store.write() as uow:
            uow.jobs.enqueue("scan", "k", "{}", T0)
        thread.join()
        assert woken == [True]
        with store.write() as uow:  # a push's event wakes workers too (they dispatch it)
            uow.outbox.append(_pushed())
        assert waiter.wait(60) is True
    finally:
        waiter.close()


def test_a_write_that_announces_nothing_wakes_no_one(store: Store) -> None:
    waiter = store.work_waiter()
    assert waiter is not None
    try:
        waiter.wait(0.05)  # listening; forget anything announced before
        with store.write() as uow:  # a worker's own dispatch: reads the outbox, moves a cursor
            uow.outbox.read_after(0)
            uow.outbox.advance("a-subscriber", 0, T0)
        assert waiter.wait(0.3) is False
        with store.write() as uow:
            assert uow.jobs.enqueue("scan", "once", "{}", T0) is True
        assert waiter.wait(60) is True
        with store.write() as uow:  # the same key again: nothing queued, nothing announced
            assert uow.jobs.enqueue("scan", "once", "{}", T0) is False
        assert waiter.wait(0.3) is False
    finally:
        waiter.close()


def test_every_waiter_is_woken_and_a_closed_one_is_not(store: Store) -> None:
    first, second = store.work_waiter(), store.work_waiter()
    assert first is not None and second is not None
    first.wait(0.05)
    second.wait(0.05)
    second.close()
    with store.write() as uow:
        uow.outbox.append(_pushed())
    assert first.wait(60) is True
    assert second.wait(0.3) is False  # closed before the append (PostgreSQL: listens anew)
    first.close()
