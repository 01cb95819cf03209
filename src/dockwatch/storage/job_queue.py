"""The storage interface for the durable job queue: serialized jobs claimed with leases, acknowledged, retried.

Services depend on this protocol only; `storage/sql/job_queue.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from typing import Protocol


class JobQueueRepo(Protocol):
    """The durable job queue: serialized jobs claimed with leases, acknowledged, retried."""
