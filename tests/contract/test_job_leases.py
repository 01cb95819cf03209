"""Job leases on both backends, and what only PostgreSQL's many workers need: a job whose
lease expired is claimed again, claims in concurrent transactions skip each other's rows
(`FOR UPDATE SKIP LOCKED`), and a late worker's finish is fenced off by its attempt number."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from dockwatch.app import Services
from dockwatch.storage.job_queue import JobState

T0 = datetime(2026, 11, 1, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def test_a_claim_holds_until_its_lease_and_a_stale_attempt_is_fenced(services: Services) -> None:
    with services.store.write() as uow:
        uow.jobs.enqueue("scan", "a", "{}", T0)
        first = uow.jobs.claim(T0, LEASE)
    assert first is not None and first.attempts == 1
    with services.store.write() as uow:
        assert uow.jobs.claim(T0 + LEASE - timedelta(seconds=1), LEASE) is None  # still held
        assert uow.jobs.renew(first.id, first.attempts, T0 + 2 * LEASE) is True
        assert uow.jobs.renew(first.id, first.attempts + 1, T0 + 2 * LEASE) is False
        uow.jobs.finish(first.id, JobState.DONE, None, T0, attempt=first.attempts + 1)
    with services.store.read() as uow:
        assert uow.jobs.depth() == {"running": 1}  # the stale finish changed nothing
    with services.store.write() as uow:
        uow.jobs.finish(first.id, JobState.DONE, None, T0, attempt=first.attempts)
        assert uow.jobs.renew(first.id, first.attempts, T0 + 3 * LEASE) is False  # finished
    with services.store.read() as uow:
        assert uow.jobs.depth() == {"done": 1}


def test_an_expired_lease_is_claimed_again_on_postgresql_only(services: Services) -> None:
    with services.store.write() as uow:
        uow.jobs.enqueue("scan", "a", "{}", T0)
        dead = uow.jobs.claim(T0, LEASE)  # its worker dies without a heartbeat
    assert dead is not None
    later = T0 + LEASE + timedelta(seconds=1)
    with services.store.write() as uow:
        again = uow.jobs.claim(later, LEASE)
    if services.store.dialect == "sqlite":  # one process: `recover` at start queues it
        assert again is None
        with services.store.write() as uow:
            assert uow.jobs.recover(later) == 1
            again = uow.jobs.claim(later, LEASE)
    assert again is not None and (again.id, again.attempts) == (dead.id, 2)
    with services.store.write() as uow:  # the dead worker's late finish is fenced off
        uow.jobs.finish(dead.id, JobState.FAILED, "late", later, attempt=dead.attempts)
        uow.jobs.finish(again.id, JobState.DONE, None, later, attempt=again.attempts)
    with services.store.read() as uow:
        assert uow.jobs.depth() == {"done": 1}


def test_recover_on_postgresql_leaves_live_leases_alone(services: Services) -> None:
    if services.store.dialect != "postgresql":
        pytest.skip("SQLite serves one process: recover at start requeues every running job")
    with services.store.write() as uow:
        uow.jobs.enqueue("scan", "live", "{}", T0)
        uow.jobs.enqueue("scan", "dead", "{}", T0)
        live = uow.jobs.claim(T0 + LEASE, LEASE)
        dead = uow.jobs.claim(T0, timedelta(seconds=1))
    assert live is not None and dead is not None
    with services.store.write() as uow:
        assert uow.jobs.recover(T0 + timedelta(minutes=1)) == 1
    with services.store.read() as uow:
        assert uow.jobs.depth() == {"running": 1, "queued": 1}


def test_concurrent_claims_skip_each_others_rows(services: Services) -> None:
    """Two workers claiming at once take different jobs, neither waiting for the other."""
    if services.store.dialect != "postgresql":
        pytest.skip("SQLite has one writer: claims are serialized by the write lock")
    with services.store.write() as uow:
        for n in range(2):
            uow.jobs.enqueue("scan", f"k{n}", "{}", T0 + timedelta(seconds=n))
    holding = threading.Event()
    release = threading.Event()
    claimed: list[str] = []

    def first_worker() -> None:
        with services.store.write() as uow:
            job = uow.jobs.claim(T0, LEASE)
            assert job is not None
            claimed.append(job.key)
            holding.set()
            release.wait(timeout=60)  # keeps its transaction (and row lock) open

    thread = threading.Thread(target=first_worker)
    thread.start()
    try:
        assert holding.wait(timeout=60)
        with services.store.write() as uow:  # would block on k0 without SKIP LOCKED
            second = uow.jobs.claim(T0, LEASE)
            assert second is not None
            claimed.append(second.key)
            assert uow.jobs.claim(T0, LEASE) is None  # k0 is locked, k1 taken
    finally:
        release.set()
        thread.join()
    assert claimed == ["k0", "k1"]
    with services.store.read() as uow:
        assert uow.jobs.depth() == {"running": 2}
