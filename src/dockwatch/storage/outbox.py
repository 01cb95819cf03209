"""The storage interface for the transactional outbox: typed events written with the change they report, read by subscribers after their cursor.

Services depend on this protocol only; `storage/sql/outbox.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from dockwatch.model.identity import Tenant


class Outbox(Protocol):
    """The transactional outbox: typed events written with the change they report, read by subscribers after their cursor."""

    def append_many(
        self, tenant: Tenant, events: Iterable[tuple[str, str, dict[str, Any]]], at: datetime
    ) -> int:
        """Add (event type, subject, payload) events in one statement; returns how many."""
        ...
