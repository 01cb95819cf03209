"""The storage interface for the durable job queue.

A job is a kind and a JSON document (what `scan/jobs.py` serializes a typed job to) under an
idempotency key: overlapping triggers with one key collapse into one job. Jobs are claimed
oldest first, one at a time.

Services depend on this protocol only; `storage/sql/job_queue.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a job is queued in the same transaction as the change that calls for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class JobState(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
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

    def claim(self, at: datetime) -> QueuedJob | None:
        """The oldest queued job, now running (its attempts counted), or None."""
        ...

    def finish(self, job_id: int, state: JobState, error: str | None, at: datetime) -> None:
        """Move a job to `state` (done, failed, or queued again for a retry)."""
        ...

    def recover(self, at: datetime) -> int:
        """Queue again the jobs left running by a killed process; returns how many."""
        ...

    def depth(self) -> dict[str, int]:
        """Jobs per state."""
        ...
