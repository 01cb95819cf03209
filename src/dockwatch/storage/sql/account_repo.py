"""SQL implementation of `storage.account_repo.AccountRepo`."""

from __future__ import annotations

from sqlalchemy import Connection


class SqlAccountRepo:
    """`storage.account_repo.AccountRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
