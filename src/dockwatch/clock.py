"""One injected clock for every timestamp.

Scanning behaviour spans 24 hours to 180 days; tests drive it by moving a `ControlledClock`
instead of waiting. The server only accepts clock control when it runs in test mode.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Where every timestamp comes from."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


class ControlledClock:
    """The wall clock shifted by an offset that tests can set or advance."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The wall clock plus the current offset."""
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward (or back, with a negative delta); returns the new time."""
        with self._lock:
            self._offset += delta
        return self.now()

    def set(self, when: datetime) -> datetime:
        """Jump to `when` (timezone-aware); the clock keeps ticking from there."""
        if when.tzinfo is None:
            raise ValueError("the time must carry a timezone")
        with self._lock:
            self._offset = when - datetime.now(UTC)
        return self.now()


def due(last: datetime | None, now: datetime, interval: timedelta) -> bool:
    """Whether a periodic pass that last ran at `last` runs again at `now`: never run, `interval`
    passed, or the clock moved back (a test or an operator set it)."""
    return last is None or not timedelta(0) <= now - last < interval
