"""SQL implementation of `storage.job_queue.JobQueueRepo`."""

from __future__ import annotations

from sqlalchemy import Connection


class SqlJobQueueRepo:
    """`storage.job_queue.JobQueueRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
