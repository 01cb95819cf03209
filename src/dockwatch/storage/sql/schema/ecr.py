"""Tables of ECR's own resources: resource tags, lifecycle policies and previews."""

from __future__ import annotations

from sqlalchemy import Column, PrimaryKeyConstraint, String, Table, Text

from dockwatch.storage.sql.schema.base import UTC_TIMESTAMP, metadata, tenant_columns

resource_tags = Table(
    "resource_tags",
    metadata,
    *tenant_columns(),
    Column("resource_arn", String(1024), nullable=False),
    Column("tag_key", String(128), nullable=False),
    Column("tag_value", String(256), nullable=False),
    PrimaryKeyConstraint("account_id", "region", "resource_arn", "tag_key"),
)


lifecycle_policies = Table(
    "lifecycle_policies",
    metadata,
    *tenant_columns(),
    Column("repository", String(256), nullable=False),
    Column("policy_text", Text, nullable=False),
    Column("updated_at", UTC_TIMESTAMP, nullable=False),
    PrimaryKeyConstraint("account_id", "region", "repository"),
)


lifecycle_previews = Table(
    "lifecycle_previews",
    metadata,
    *tenant_columns(),
    Column("repository", String(256), nullable=False),
    Column("policy_text", Text, nullable=False),
    Column("result", Text, nullable=False),
    Column("created_at", UTC_TIMESTAMP, nullable=False),
    PrimaryKeyConstraint("account_id", "region", "repository"),
)
