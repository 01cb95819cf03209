"""SQL implementation of `storage.job_queue.JobQueueRepo` (one table, `jobs`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from dockwatch.storage.job_queue import JobState, QueuedJob
from dockwatch.storage.sql import tables as t


class SqlJobQueueRepo:
    """`storage.job_queue.JobQueueRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

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
        return True

    def claim(self, at: datetime) -> QueuedJob | None:
        j = t.jobs
        row = self._conn.execute(
            select(j).where(j.c.state == JobState.QUEUED.value).order_by(j.c.id).limit(1)
        ).first()
        if row is None:
            return None
        self._conn.execute(
            update(j)
            .where(j.c.id == row.id)
            .values(state=JobState.RUNNING.value, attempts=row.attempts + 1, updated_at=at)
        )
        return QueuedJob(row.id, row.kind, row.key, row.payload, row.attempts + 1)

    def finish(self, job_id: int, state: JobState, error: str | None, at: datetime) -> None:
        self._conn.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job_id)
            .values(state=state.value, error=error, updated_at=at)
        )

    def recover(self, at: datetime) -> int:
        j = t.jobs
        return int(
            self._conn.execute(
                update(j)
                .where(j.c.state == JobState.RUNNING.value)
                .values(state=JobState.QUEUED.value, updated_at=at)
            ).rowcount
        )

    def depth(self) -> dict[str, int]:
        j = t.jobs
        rows = self._conn.execute(select(j.c.state, func.count()).group_by(j.c.state)).all()
        return {state: int(n) for state, n in rows}
