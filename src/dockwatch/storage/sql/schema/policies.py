"""Tables of pull policies and per-image pull allowances."""

from __future__ import annotations

from sqlalchemy import Column, Index, PrimaryKeyConstraint, String, Table, Text

from dockwatch.storage.sql.schema.base import UTC_TIMESTAMP, metadata, tenant_columns

pull_policies = Table(
    "pull_policies",
    metadata,
    *tenant_columns(),
    Column("repository", String(256), nullable=False),  # "" is the registry-wide policy
    Column("document", Text, nullable=False),  # the policy as the API accepted it (JSON)
    Column("updated_at", UTC_TIMESTAMP, nullable=False),
    PrimaryKeyConstraint("account_id", "region", "repository"),
)


pull_allowances = Table(
    "pull_allowances",
    metadata,
    Column("id", String(32), primary_key=True),
    *tenant_columns(),
    Column("repository", String(256), nullable=False),
    Column("digest", String(140), nullable=False),
    Column("reason", Text, nullable=False),
    Column("expires_at", UTC_TIMESTAMP, nullable=False),
    Column("created_at", UTC_TIMESTAMP, nullable=False),
    Index("ix_pull_allowances_image", "account_id", "region", "repository", "digest"),
)
