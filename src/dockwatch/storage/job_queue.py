"""The storage interface for the durable job queue.

A job is a kind and a JSON document (what `scan/jobs.py` serializes a typed job to) under an
idempotency key: overlapping triggers with one key collapse into one job. Jobs are claimed
oldest first, one at a time.

A claim is a lease: the job is the claimer's until `lease_until`, which a running worker renews
(its heartbeat). On PostgreSQL, where many workers share the queue, a job whose lease ran out
(its worker died) is claimed again by any worker, and claims skip rows another transaction is
claiming (`FOR UPDATE SKIP LOCKED`). The claim's attempt number fences a late worker: `finish`
and `renew` with a stale attempt change nothing. On SQLite (one process) `recover` at start is
what queues the jobs a killed process left running.

Services depend on this protocol only; `storage/sql/job_queue.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a job is queued in the same transaction as the change that calls for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from dockwatch.value_class import frozen

DEFAULT_LEASE = timedelta(minutes=5)
"""How long a claim holds a job without a heartbeat."""


class JobState(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@frozen
class QueuedJob:
    """A claimed job as stored."""

    id: int
    kind: str
    key: str
    document: str
    """The job's JSON document."""
    attempts: int
    """Runs so far, this one included."""


class JobQueueRepo(Protocol):
    """Queue, claim, finish and recover jobs."""

    def enqueue(self, kind: str, key: str, document: str, at: datetime) -> bool:
        """Queue a job unless one with `key` exists; True when queued."""
        ...

    def claim(self, at: datetime, lease: timedelta = DEFAULT_LEASE) -> QueuedJob | None:
        """The oldest claimable job (queued, or on PostgreSQL running with its lease expired),
        now running under a lease until `at + lease` (its attempts counted), or None."""
        ...

    def renew(self, job_id: int, attempt: int, until: datetime) -> bool:
        """Extend the lease of the claim `attempt` of a running job; False when the claim is
        no longer that one (the lease expired and another worker took the job)."""
        ...

    def finish(
        self,
        job_id: int,
        state: JobState,
        error: str | None,
        at: datetime,
        attempt: int | None = None,
    ) -> None:
        """Move a job to `state` (done, failed, or queued again for a retry); with `attempt`,
        only while that claim still holds the job."""
        ...

    def recover(self, at: datetime) -> int:
        """Queue again the jobs left running by a killed process; returns how many. On
        SQLite (one process) every running job; on PostgreSQL only those whose lease expired,
        since other live workers hold the rest."""
        ...

    def depth(self) -> dict[str, int]:
        """Jobs per state."""
        ...
