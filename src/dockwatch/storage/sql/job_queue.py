"""SQL implementation of `storage.job_queue.JobQueueRepo` (one table, `jobs`).

On PostgreSQL a claim locks its row with `FOR UPDATE SKIP LOCKED`, so workers claiming at once
take different jobs without waiting on each other, and a job whose lease expired is claimed
again. Enqueuing sends `NOTIFY dockwatch_jobs` (delivered at commit) to wake idle workers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Select, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from dockwatch.storage.job_queue import DEFAULT_LEASE, JobState, QueuedJob
from dockwatch.storage.sql import tables as t

JOBS_CHANNEL = "dockwatch_jobs"
"""The PostgreSQL notification channel of new work (jobs queued, outbox events appended)."""
ANNOUNCED = "dockwatch.work_announced"
"""SQLite's `NOTIFY`: set in the connection's `info` by a transaction that queues a job or
appends an event; `SqlStore.write` wakes this process's idle workers once it has committed."""


class SqlJobQueueRepo:
    """`storage.job_queue.JobQueueRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._postgresql = conn.dialect.name == "postgresql"

    def enqueue(self, kind: str, key: str, document: str, at: datetime) -> bool:
        conn = self._conn
        if conn.execute(select(t.jobs.c.id).where(t.jobs.c.key == key)).first() is not None:
            return False
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(t.jobs).values(
                        kind=kind,
                        key=key,
                        payload=document,
                        state=JobState.QUEUED.value,
                        created_at=at,
                        updated_at=at,
                    )
                )
        except IntegrityError:
            return False
        if self._postgresql:
            conn.execute(
                text("SELECT pg_notify(:channel, :kind)"), {"channel": JOBS_CHANNEL, "kind": kind}
            )
        else:
            conn.info[ANNOUNCED] = True
        return True

    def _first(self, query: Select[tuple[object, ...]]) -> object | None:
        if self._postgresql:
            query = query.with_for_update(skip_locked=True)
        return self._conn.execute(query.order_by(t.jobs.c.id).limit(1)).first()

    def claim(self, at: datetime, lease: timedelta = DEFAULT_LEASE) -> QueuedJob | None:
        j = t.jobs
        row = None
        if self._postgresql:  # a dead worker's job first: it is the oldest work
            row = self._first(
                select(j).where(j.c.state == JobState.RUNNING.value, j.c.lease_until < at)
            )
        if row is None:
            row = self._first(select(j).where(j.c.state == JobState.QUEUED.value))
        if row is None:
            return None
        attempts = int(row.attempts) + 1  # type: ignore[attr-defined]
        self._conn.execute(
            update(j)
            .where(j.c.id == row.id)  # type: ignore[attr-defined]
            .values(
                state=JobState.RUNNING.value,
                attempts=attempts,
                updated_at=at,
                lease_until=at + lease,
            )
        )
        return QueuedJob(row.id, row.kind, row.key, row.payload, attempts)  # type: ignore[attr-defined]

    def renew(self, job_id: int, attempt: int, until: datetime) -> bool:
        j = t.jobs
        held = (j.c.id == job_id, j.c.attempts == attempt, j.c.state == JobState.RUNNING.value)
        return bool(self._conn.execute(update(j).where(*held).values(lease_until=until)).rowcount)

    def finish(
        self,
        job_id: int,
        state: JobState,
        error: str | None,
        at: datetime,
        attempt: int | None = None,
    ) -> None:
        j = t.jobs
        query = update(j).where(j.c.id == job_id)
        if attempt is not None:
            query = query.where(j.c.attempts == attempt, j.c.state == JobState.RUNNING.value)
        self._conn.execute(
            query.values(state=state.value, error=error, updated_at=at, lease_until=None)
        )
        if self._postgresql and state is JobState.QUEUED:
            self._conn.execute(
                text("SELECT pg_notify(:channel, 'retry')"), {"channel": JOBS_CHANNEL}
            )

    def recover(self, at: datetime) -> int:
        j = t.jobs
        query = update(j).where(j.c.state == JobState.RUNNING.value)
        if self._postgresql:
            query = query.where(j.c.lease_until.is_(None) | (j.c.lease_until < at))
        return int(
            self._conn.execute(
                query.values(state=JobState.QUEUED.value, updated_at=at, lease_until=None)
            ).rowcount
        )

    def depth(self) -> dict[str, int]:
        j = t.jobs
        rows = self._conn.execute(select(j.c.state, func.count()).group_by(j.c.state)).all()
        return {state: int(n) for state, n in rows}
