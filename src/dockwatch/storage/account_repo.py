"""The storage interface for users, their password hashes and credentials.

Services depend on this protocol only; `storage/sql/account_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from typing import Protocol


class AccountRepo(Protocol):
    """Users, their password hashes and credentials."""
