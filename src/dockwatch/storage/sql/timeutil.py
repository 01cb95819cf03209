"""SQLite returns naive datetimes for timezone-aware columns; everything in dockwatch is UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime) -> datetime:
    """`value` with UTC attached when the driver dropped it."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_utc_or_none(value: datetime | None) -> datetime | None:
    """`as_utc` for nullable columns."""
    return None if value is None else as_utc(value)
