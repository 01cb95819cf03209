"""SQL implementation of `storage.account_repo.AccountRepo`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, select
from sqlalchemy.exc import IntegrityError

from dockwatch.model.identity import Tenant
from dockwatch.storage.account_repo import AccessKeyRow, AccountRow
from dockwatch.storage.sql import tables

_users = tables.users
_accounts = tables.accounts
_keys = tables.access_keys


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

    def add_account(self, account: AccountRow) -> bool:
        if self.get_account(account.account_id) is not None:
            return False
        try:
            with self._conn.begin_nested():  # a concurrent start may insert the same id
                self._conn.execute(
                    _accounts.insert().values(
                        account_id=account.account_id,
                        name=account.name,
                        created_at=account.created_at,
                    )
                )
        except IntegrityError:
            return False
        return True

    def get_account(self, account_id: str) -> AccountRow | None:
        row = self._conn.execute(
            select(_accounts).where(_accounts.c.account_id == account_id)
        ).one_or_none()
        return None if row is None else AccountRow(row.account_id, row.name, _utc(row.created_at))

    def list_accounts(self) -> list[AccountRow]:
        rows = self._conn.execute(select(_accounts).order_by(_accounts.c.account_id))
        return [AccountRow(r.account_id, r.name, _utc(r.created_at)) for r in rows]

    def add_access_key(self, key: AccessKeyRow) -> None:
        self._conn.execute(
            _keys.insert().values(
                access_key_id=key.access_key_id,
                account_id=key.account_id,
                user_name=key.user_name,
                secret_sealed=key.secret_sealed,
                status=key.status,
                created_at=key.created_at,
            )
        )

    def get_access_key(self, access_key_id: str) -> AccessKeyRow | None:
        row = self._conn.execute(
            select(_keys).where(_keys.c.access_key_id == access_key_id)
        ).one_or_none()
        return None if row is None else _key(row)

    def list_access_keys(self, account_id: str) -> list[AccessKeyRow]:
        rows = self._conn.execute(
            select(_keys)
            .where(_keys.c.account_id == account_id)
            .order_by(_keys.c.user_name, _keys.c.access_key_id)
        )
        return [_key(r) for r in rows]

    def delete_access_key(self, account_id: str, access_key_id: str) -> bool:
        result = self._conn.execute(
            _keys.delete().where(
                _keys.c.account_id == account_id, _keys.c.access_key_id == access_key_id
            )
        )
        return result.rowcount > 0


def _key(row: Row[Any]) -> AccessKeyRow:
    return AccessKeyRow(
        row.access_key_id,
        row.account_id,
        row.user_name,
        row.secret_sealed,
        row.status,
        _utc(row.created_at),
    )


def _utc(at: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
