"""The storage interface for users, their password hashes and credentials.

Services depend on this protocol only; `storage/sql/account_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from dockwatch.model.identity import Tenant


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
