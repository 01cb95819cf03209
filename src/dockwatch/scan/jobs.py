"""A persisted job queue on the database: idempotent, claimed one at a time, retried after a crash.

Each job has an idempotency `key` (a push event id, or an image resource plus database version
for a re-match), so overlapping triggers collapse into one job. A job found `running` when the
server starts belonged to a killed process and is queued again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from dockwatch.clock import Clock
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database

MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed job."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int


def enqueue(conn: Connection, kind: str, key: str, payload: dict[str, Any], at: datetime) -> bool:
    """Queue a job unless one with `key` exists; returns True when queued."""
    if conn.execute(select(t.jobs.c.id).where(t.jobs.c.key == key)).first() is not None:
        return False
    try:
        with conn.begin_nested():
            conn.execute(
                insert(t.jobs).values(
                    kind=kind,
                    key=key,
                    payload=json.dumps(payload),
                    state="queued",
                    created_at=at,
                    updated_at=at,
                )
            )
    except IntegrityError:
        return False
    return True


class JobQueue:
    """Claim, finish and recover jobs."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def recover(self) -> int:
        """Requeue jobs left running by a killed server; returns how many."""
        with self.db.write() as conn:
            return int(
                conn.execute(
                    update(t.jobs)
                    .where(t.jobs.c.state == "running")
                    .values(state="queued", updated_at=self.clock.now())
                ).rowcount
            )

    def claim(self) -> Job | None:
        """The oldest queued job, now running."""
        with self.db.write() as conn:
            row = conn.execute(
                select(t.jobs).where(t.jobs.c.state == "queued").order_by(t.jobs.c.id).limit(1)
            ).first()
            if row is None:
                return None
            conn.execute(
                update(t.jobs)
                .where(t.jobs.c.id == row.id)
                .values(state="running", attempts=row.attempts + 1, updated_at=self.clock.now())
            )
        return Job(row.id, row.kind, row.key, json.loads(row.payload), row.attempts + 1)

    def finish(self, job: Job, error: str | None = None) -> None:
        """Mark a job done, or failed (queued again until it has failed MAX_ATTEMPTS times)."""
        if error is None:
            state = "done"
        else:
            state = "failed" if job.attempts >= MAX_ATTEMPTS else "queued"
        with self.db.write() as conn:
            conn.execute(
                update(t.jobs)
                .where(t.jobs.c.id == job.id)
                .values(state=state, error=error, updated_at=self.clock.now())
            )

    def depth(self) -> dict[str, int]:
        """Jobs per state (for /metrics)."""
        with self.db.read() as conn:
            rows = conn.execute(select(t.jobs.c.state, func.count()).group_by(t.jobs.c.state)).all()
        return {state: int(n) for state, n in rows}
