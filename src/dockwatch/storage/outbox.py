"""The storage interface for the transactional outbox: typed events written with the change they report, read by subscribers after their cursor.

Services depend on this protocol only; `storage/sql/outbox.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol


class Outbox(Protocol):
    """The transactional outbox: typed events written with the change they report, read by subscribers after their cursor."""

    def append(
        self,
        *,
        account_id: str,
        region: str,
        event_type: str,
        subject: str,
        payload: dict[str, Any],
        at: datetime,
    ) -> None:
        """Add an event inside the unit of work's transaction."""
        ...
