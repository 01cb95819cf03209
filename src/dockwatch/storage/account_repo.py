"""The storage interface for users, their password hashes and credentials.

Services depend on this protocol only; `storage/sql/account_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from dockwatch.model.identity import Tenant
from dockwatch.value_class import frozen


@frozen
class AccountRow:
    """One account as stored."""

    account_id: str
    """Twelve digits."""
    name: str
    created_at: datetime


@frozen
class AccessKeyRow:
    """One access key as stored: its secret only in sealed form."""

    access_key_id: str
    account_id: str
    user_name: str
    secret_sealed: str
    """The secret sealed with a key kept outside the database."""
    status: str
    """`Active` or `Inactive`."""
    created_at: datetime


class AccountRepo(Protocol):
    """Users, their password hashes and credentials."""

    def password_hash(self, tenant: Tenant, username: str) -> str | None:
        """The stored hash of a user's password; None when there is no such user."""
        ...

    def any_username(self, tenant: Tenant) -> str | None:
        """The name of one user of the account (the first by name), None when there is none."""
        ...

    def add_user(self, tenant: Tenant, username: str, password_hash: str, at: datetime) -> None:
        """Create a user (the name must be new in the account)."""
        ...

    def set_password_hash(self, tenant: Tenant, username: str, password_hash: str) -> bool:
        """Replace a user's password hash; False when there is no such user."""
        ...

    def delete_user(self, tenant: Tenant, username: str) -> bool:
        """Remove a user; False when there was no such user."""
        ...

    def add_account(self, account: AccountRow) -> bool:
        """Create an account; False (nothing changed) when its id exists already."""
        ...

    def get_account(self, account_id: str) -> AccountRow | None:
        """One account, None when there is no such id."""
        ...

    def list_accounts(self) -> list[AccountRow]:
        """Every account, by id."""
        ...

    def add_access_key(self, key: AccessKeyRow) -> None:
        """Store a new access key (its id must be new)."""
        ...

    def get_access_key(self, access_key_id: str) -> AccessKeyRow | None:
        """One access key by id, None when there is none."""
        ...

    def list_access_keys(self, account_id: str) -> list[AccessKeyRow]:
        """The access keys of one account, by user then id."""
        ...

    def delete_access_key(self, account_id: str, access_key_id: str) -> bool:
        """Remove an access key of an account; False when it had no such key."""
        ...
