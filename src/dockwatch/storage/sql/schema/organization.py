"""Inspector's organization: the delegated administrator of each region and its members."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from dockwatch.storage.sql.schema.base import UTC_TIMESTAMP, metadata

inspector_delegated_admins = Table(
    "inspector_delegated_admins",
    metadata,
    Column("region", String(32), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("management_account_id", String(12), nullable=False),
    Column("status", String(32), nullable=False),
    Column("updated_at", UTC_TIMESTAMP, nullable=False),
)
"""One delegated administrator per region, as Inspector allows one per organization and region."""

inspector_members = Table(
    "inspector_members",
    metadata,
    Column("region", String(32), primary_key=True),
    Column("account_id", String(12), primary_key=True),
    Column("delegated_admin_account_id", String(12), nullable=False),
    Column("relationship_status", String(64), nullable=False),
    Column("updated_at", UTC_TIMESTAMP, nullable=False),
    Index("ix_inspector_members_admin", "region", "delegated_admin_account_id", "account_id"),
)
"""Every account a delegated administrator associated (ENABLED) or disassociated (REMOVED)."""
