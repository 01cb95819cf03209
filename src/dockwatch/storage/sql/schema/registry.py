"""Tables of the registry: accounts, repositories, blobs, manifests, tags, uploads."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from dockwatch.storage.sql.schema.base import UTC_TIMESTAMP, metadata, tenant_columns

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("subsystem", String(32), nullable=False),
    Column("number", Integer, nullable=False),
    Column("name", String(128), nullable=False),
    Column("applied_at", UTC_TIMESTAMP, nullable=False),
    PrimaryKeyConstraint("subsystem", "number"),
)


users = Table(
    "users",
    metadata,
    *tenant_columns(),
    Column("username", String(128), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("created_at", UTC_TIMESTAMP, nullable=False),
    PrimaryKeyConstraint("account_id", "username"),
)


repositories = Table(
    "repositories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *tenant_columns(),
    Column("name", String(256), nullable=False),
    Column("created_at", UTC_TIMESTAMP, nullable=False),
    Column("image_tag_mutability", String(16), nullable=False, server_default="MUTABLE"),
    Column("scan_on_push", Boolean, nullable=False, server_default="0"),
    UniqueConstraint("account_id", "region", "name", name="uq_repositories_name"),
)


blobs = Table(
    "blobs",
    metadata,
    Column("digest", String(140), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UTC_TIMESTAMP, nullable=False),
)


repository_blobs = Table(
    "repository_blobs",
    metadata,
    *tenant_columns(),
    Column("repository_id", Integer, ForeignKey("repositories.id"), nullable=False),
    Column("digest", String(140), ForeignKey("blobs.digest"), nullable=False),
    Column("linked_at", UTC_TIMESTAMP, nullable=False),
    PrimaryKeyConstraint("repository_id", "digest"),
    Index("ix_repository_blobs_digest", "digest"),
)


manifest_contents = Table(
    "manifest_contents",
    metadata,
    Column("digest", String(140), primary_key=True),
    Column("media_type", String(256), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
)


manifests = Table(
    "manifests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *tenant_columns(),
    Column("repository_id", Integer, ForeignKey("repositories.id"), nullable=False),
    Column("digest", String(140), ForeignKey("manifest_contents.digest"), nullable=False),
    Column("media_type", String(256), nullable=False),
    Column("artifact_type", String(256)),
    Column("subject_digest", String(140)),
    Column("size", BigInteger, nullable=False),
    Column("image_pushed_at", UTC_TIMESTAMP, nullable=False),
    Column("last_pushed_at", UTC_TIMESTAMP, nullable=False),
    Column("last_pulled_at", UTC_TIMESTAMP),
    UniqueConstraint("repository_id", "digest", name="uq_manifests_repo_digest"),
    Index("ix_manifests_subject", "repository_id", "subject_digest"),
    Index("ix_manifests_digest", "digest"),
)


manifest_references = Table(
    "manifest_references",
    metadata,
    Column("manifest_id", Integer, ForeignKey("manifests.id", ondelete="CASCADE"), nullable=False),
    Column("digest", String(140), nullable=False),
    Column("kind", String(16), nullable=False),  # "blob" or "manifest"
    PrimaryKeyConstraint("manifest_id", "digest", "kind"),
    Index("ix_manifest_references_digest", "digest"),
)


tags = Table(
    "tags",
    metadata,
    *tenant_columns(),
    Column("repository_id", Integer, ForeignKey("repositories.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("manifest_digest", String(140), nullable=False),
    Column("updated_at", UTC_TIMESTAMP, nullable=False),
    PrimaryKeyConstraint("repository_id", "name"),
    Index("ix_tags_digest", "repository_id", "manifest_digest"),
)


uploads = Table(
    "uploads",
    metadata,
    Column("id", String(64), primary_key=True),
    *tenant_columns(),
    Column("repository_id", Integer, ForeignKey("repositories.id"), nullable=False),
    Column("started_at", UTC_TIMESTAMP, nullable=False),
)


repository_policies = Table(
    "repository_policies",
    metadata,
    Column(
        "repository_id",
        Integer,
        ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("policy_text", Text, nullable=False),
    Column("updated_at", UTC_TIMESTAMP, nullable=False),
)
"""ECR repository policies (resource policies), as set: read on cross-account pulls."""
