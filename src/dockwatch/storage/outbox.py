"""The storage interface for the transactional outbox: typed events written with the change they report, read by subscribers after their cursor.

Services depend on this protocol only; `storage/sql/outbox.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol


class Outbox(Protocol):
    """The transactional outbox: typed events written with the change they report, read by subscribers after their cursor."""

    def unread(self, subscriber: str, event_types: Collection[str]) -> int:
        """Events of `event_types` after `subscriber`'s cursor."""
        ...
