"""The storage interface for the transactional outbox: typed events written with the change they report, read by subscribers after their cursor.

Services depend on this protocol only; `storage/sql/outbox.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from dockwatch.model.events import Event, OutboxEvent
from dockwatch.model.identity import Tenant


class Outbox(Protocol):
    """The transactional outbox: typed events written with the change they report, read by subscribers after their cursor."""

    def append(self, event: Event) -> int:
        """Add one event inside the unit of work; returns its outbox id."""
        ...

    def append_many(self, events: Iterable[Event]) -> int:
        """Add events in one statement, in order; returns how many."""
        ...

    def read_after(
        self, after_id: int, event_types: Iterable[str] | None = None, limit: int = 500
    ) -> list[OutboxEvent]:
        """Events with an id above `after_id` (of the named types), oldest first."""
        ...

    def read_of_tenant(
        self,
        tenant: Tenant,
        event_types: Iterable[str],
        since: datetime,
        after_id: int = 0,
        limit: int = 500,
    ) -> list[OutboxEvent]:
        """One tenant's events of the named types written at or after `since`, with an id above
        `after_id`, oldest first."""
        ...

    def last_id(self) -> int:
        """The newest event id (0 when the outbox is empty)."""
        ...

    def count_after(self, after_id: int, event_types: Iterable[str]) -> int:
        """How many events of the named types have an id above `after_id`."""
        ...

    def hold_cursor(self, subscriber: str) -> bool:
        """Take `subscriber`'s cursor until the transaction ends; False, at once, when another
        transaction holds it (another process reads the same events now: skip the round)."""
        ...

    def cursor(self, subscriber: str) -> int:
        """The last event id `subscriber` has processed (0 if none)."""
        ...

    def advance(self, subscriber: str, last_id: int, at: datetime) -> None:
        """Move `subscriber`'s cursor to `last_id`."""
        ...

    def purge_before(self, cutoff: datetime) -> int:
        """Delete the events written before `cutoff` that every subscriber's cursor has passed
        and that no webhook delivery still waits on, with their finished delivery attempts;
        returns how many events were deleted."""
        ...
