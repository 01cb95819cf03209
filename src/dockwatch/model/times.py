"""Time values as dockwatch keeps them: always UTC, rendered as ISO 8601.

SQLite returns naive datetimes for timezone-aware columns, so every value read back is passed
through `as_utc`; every value rendered for a client goes through `iso`.
"""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime) -> datetime:
    """`value` in UTC, with UTC attached when a driver dropped the zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_utc_or_none(value: datetime | None) -> datetime | None:
    """`as_utc` for nullable values."""
    return None if value is None else as_utc(value)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, or None."""
    return None if value is None else as_utc(value).isoformat()
