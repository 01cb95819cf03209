"""The metadata every table belongs to, and the column helpers they share."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    String,
)

metadata = MetaData()


UTC_TIMESTAMP = DateTime(timezone=True)
"""Every timestamp column: timezone-aware, stored as UTC."""


def tenant_columns() -> list[Column[str]]:
    """`account_id` and `region`: every table holding tenant data carries them."""
    return [
        Column("account_id", String(12), nullable=False),
        Column("region", String(32), nullable=False),
    ]
