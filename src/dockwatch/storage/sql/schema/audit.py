"""The audit log table: one row per change (or refused attempt), appended, purged by age."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table

from dockwatch.storage.sql.schema.base import UTC_TIMESTAMP, metadata, tenant_columns

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *tenant_columns(),
    Column("at", UTC_TIMESTAMP, nullable=False),
    Column("principal", String(256), nullable=False),
    Column("source", String(256), nullable=False),
    Column("action", String(512), nullable=False),
    Column("resource", String(2048), nullable=False),
    Column("status", Integer, nullable=False),
    Column("error_code", String(128)),
    Index("ix_audit_log_tenant_at", "account_id", "region", "at"),
    Index("ix_audit_log_principal", "account_id", "region", "principal", "id"),
)
