"""SQL implementation of `storage.account_repo.AccountRepo`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import tables

_users = tables.users


class SqlAccountRepo:
    """`storage.account_repo.AccountRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def password_hash(self, tenant: Tenant, username: str) -> str | None:
        value = self._conn.execute(
            select(_users.c.password_hash).where(
                _users.c.account_id == tenant.account_id, _users.c.username == username
            )
        ).scalar_one_or_none()
        return None if value is None else str(value)

    def any_username(self, tenant: Tenant) -> str | None:
        value = self._conn.execute(
            select(_users.c.username)
            .where(_users.c.account_id == tenant.account_id)
            .order_by(_users.c.username)
            .limit(1)
        ).scalar_one_or_none()
        return None if value is None else str(value)

    def add_user(self, tenant: Tenant, username: str, password_hash: str, at: datetime) -> None:
        self._conn.execute(
            _users.insert().values(
                account_id=tenant.account_id,
                region=tenant.region,
                username=username,
                password_hash=password_hash,
                created_at=at,
            )
        )

    def set_password_hash(self, tenant: Tenant, username: str, password_hash: str) -> bool:
        result = self._conn.execute(
            _users.update()
            .where(_users.c.account_id == tenant.account_id, _users.c.username == username)
            .values(password_hash=password_hash)
        )
        return result.rowcount > 0

    def delete_user(self, tenant: Tenant, username: str) -> bool:
        result = self._conn.execute(
            _users.delete().where(
                _users.c.account_id == tenant.account_id, _users.c.username == username
            )
        )
        return result.rowcount > 0
