"""`Store.singleton` and `Store.work_waiter` on both backends: one holder of a named singleton
at a time (PostgreSQL: advisory locks, one per database session), and on PostgreSQL idle
workers woken by the NOTIFY of a committed enqueue or outbox append, not by a rolled-back one."""

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
    if store.dialect == "sqlite":
        assert waiter is None  # workers poll
        return
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
