"""Timestamps as integer microseconds since 1970 (UTC) on SQLite, `timestamptz` on PostgreSQL.

SQLAlchemy's `DateTime` on SQLite is text, "2026-12-05 21:58:29.123456": 26 bytes and a header
byte in the row and in every index entry holding it. The same instant as an integer is 8 bytes;
it sorts and compares the same (text in one zone, fixed width, sorts by time), so sort indexes,
keyset pages and date filters read as before. PostgreSQL's `timestamptz` is already 8 bytes
and stays as it is (`EPOCH_MICROS_TIMESTAMP` is a variant for SQLite only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from dockwatch.storage.sql.schema.base import UTC_TIMESTAMP

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """Microseconds since 1970 UTC of `value` (naive: taken as UTC, as `as_utc` reads it)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // ONE_MICROSECOND


def from_micros(value: int) -> datetime:
    """The UTC instant `value` microseconds after 1970."""
    return EPOCH + timedelta(microseconds=value)


class EpochMicros(TypeDecorator[datetime]):
    """An aware datetime stored as INTEGER microseconds since 1970 UTC (exact to the
    microsecond, as `DateTime` is); read back in UTC."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        return None if value is None else to_micros(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        return None if value is None else from_micros(int(value))

    def process_literal_param(self, value: datetime | None, dialect: Dialect) -> str:
        return "NULL" if value is None else str(to_micros(value))


EPOCH_MICROS_TIMESTAMP = UTC_TIMESTAMP.with_variant(EpochMicros(), "sqlite")
"""A timestamp column: `EpochMicros` on SQLite, `timestamptz` elsewhere."""


def micros_from_text_sql(column: str) -> str:
    """SQLite SQL turning `column`, a timestamp as SQLAlchemy's `DateTime` stores it on SQLite
    ("YYYY-MM-DD HH:MM:SS[.ffffff]", UTC), into `EpochMicros`' integer; integers (already
    converted) and NULL are kept. The seconds through `strftime('%s')`, the fraction padded to
    six digits."""
    return (
        f"CASE WHEN typeof({column}) = 'text' THEN "
        f"CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER) * 1000000 + "
        f"CAST(substr({column} || '000000', 21, 6) AS INTEGER) ELSE {column} END"
    )
