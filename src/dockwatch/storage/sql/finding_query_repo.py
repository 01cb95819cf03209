"""SQL implementation of `storage.finding_query_repo.FindingQueryRepo`."""

from __future__ import annotations

from sqlalchemy import Connection


class SqlFindingQueryRepo:
    """`storage.finding_query_repo.FindingQueryRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
