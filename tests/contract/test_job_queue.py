"""`JobQueueRepo` contract: idempotent keys, oldest first, attempts, recovery, depth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dockwatch.app import Services
from dockwatch.storage.job_queue import JobState

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_a_key_is_queued_once(services: Services) -> None:
    with services.store.write() as uow:
        assert uow.jobs.enqueue("scan", "push:1", '{"a": 1}', T0) is True
        assert uow.jobs.enqueue("scan", "push:1", '{"a": 2}', T0) is False
    with services.store.read() as uow:
        assert uow.jobs.depth() == {"queued": 1}
    with services.store.write() as uow:
        claimed = uow.jobs.claim(T0)
    assert claimed is not None
    assert (claimed.kind, claimed.key, claimed.document) == ("scan", "push:1", '{"a": 1}')


def test_claimed_oldest_first_with_attempts_counted(services: Services) -> None:
    with services.store.write() as uow:
        for n in range(3):
            uow.jobs.enqueue("scan", f"k{n}", "{}", T0 + timedelta(seconds=n))
    keys = []
    with services.store.write() as uow:
        while (job := uow.jobs.claim(T0)) is not None:
            keys.append((job.key, job.attempts))
    assert keys == [("k0", 1), ("k1", 1), ("k2", 1)]
    with services.store.read() as uow:
        assert uow.jobs.depth() == {"running": 3}


def test_finish_retry_and_recover(services: Services) -> None:
    with services.store.write() as uow:
        uow.jobs.enqueue("delta", "d", "{}", T0)
        uow.jobs.enqueue("scan", "s", "{}", T0)
        first = uow.jobs.claim(T0)
        second = uow.jobs.claim(T0)
    assert first is not None and second is not None
    with services.store.write() as uow:
        uow.jobs.finish(first.id, JobState.QUEUED, "boom", T0)  # a retry
        uow.jobs.finish(second.id, JobState.DONE, None, T0)
    with services.store.write() as uow:
        again = uow.jobs.claim(T0)
        assert again is not None and (again.key, again.attempts) == ("d", 2)
        assert uow.jobs.claim(T0) is None
    # a killed process left it running: recovery (after its lease, as PostgreSQL's many
    # workers need) queues it again
    restart = T0 + timedelta(hours=1)
    with services.store.write() as uow:
        assert uow.jobs.recover(restart) == 1
        assert uow.jobs.recover(restart) == 0
    with services.store.read() as uow:
        assert uow.jobs.depth() == {"queued": 1, "done": 1}
    with services.store.write() as uow:
        last = uow.jobs.claim(T0)
        assert last is not None and last.attempts == 3
        uow.jobs.finish(last.id, JobState.FAILED, "gave up", T0)
    with services.store.read() as uow:
        assert uow.jobs.depth() == {"failed": 1, "done": 1}


def test_a_rolled_back_unit_of_work_queues_nothing(services: Services) -> None:
    try:
        with services.store.write() as uow:
            uow.jobs.enqueue("scan", "lost", "{}", T0)
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    with services.store.read() as uow:
        assert uow.jobs.depth() == {}
