"""Tables of cataloguing and scanning: layer results, scan state, inventories, the reverse index."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from dockwatch.storage.sql.schema.base import UTC_TIMESTAMP, metadata, tenant_columns

catalog_results = Table(
    "catalog_results",
    metadata,
    Column("layer_digest", String(140), nullable=False),
    Column("cataloger", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("result", LargeBinary, nullable=False),
    Column("created_at", UTC_TIMESTAMP, nullable=False),
    PrimaryKeyConstraint("layer_digest", "cataloger", "version"),
)


catalog_layer_facts = Table(
    "catalog_layer_facts",
    metadata,
    Column("layer_digest", String(140), nullable=False),
    Column("version", Integer, nullable=False),
    Column("facts", LargeBinary, nullable=False),
    Column("created_at", UTC_TIMESTAMP, nullable=False),
    PrimaryKeyConstraint("layer_digest", "version"),
)


scan_settings = Table(
    "scan_settings",
    metadata,
    *tenant_columns(),
    Column("scanning_configuration", Text, nullable=False),
    Column("ecr_configuration", Text, nullable=False),
    Column("updated_at", UTC_TIMESTAMP, nullable=False),
    Column("activation_epoch", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("account_id", "region"),
)


image_scans = Table(
    "image_scans",
    metadata,
    *tenant_columns(),
    Column("repository_id", Integer, ForeignKey("repositories.id"), nullable=False),
    Column("digest", String(140), nullable=False),
    Column("scan_type", String(16), nullable=False),
    Column("status_code", String(16), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("last_scanned_at", UTC_TIMESTAMP),
    Column("db_version", Integer, nullable=False, server_default="0"),
    Column("os_ecosystem", String(64)),
    Column("unsupported_os", Text),
    Column("basic_findings", LargeBinary),
    Column("last_manual_scan_at", UTC_TIMESTAMP),
    Column("updated_at", UTC_TIMESTAMP, nullable=False),
    Column("last_activated_at", UTC_TIMESTAMP),
    PrimaryKeyConstraint("repository_id", "digest"),
)


image_inventories = Table(
    "image_inventories",
    metadata,
    Column("digest", String(140), primary_key=True),
    Column("distro", Text),
    Column("packages", LargeBinary, nullable=False),
    Column("catalogers", Text, nullable=False),
    Column("created_at", UTC_TIMESTAMP, nullable=False),
)


package_groups = Table(
    "package_groups",
    metadata,
    Column("group_ref", String(32), nullable=False),
    Column("ecosystem", String(64), nullable=False),
    Column("name", String(512), nullable=False),
    Column("pkg_ref", String(32), nullable=False),
    PrimaryKeyConstraint("group_ref", "ecosystem", "name", "pkg_ref"),
    Index("ix_package_groups_key", "ecosystem", "name"),
)
"""The reverse index, part 1: the packages one layer contributes to an inventory, as the
(ecosystem, name) each is looked up under. Named by content, so the base layers shared by
thousands of images are indexed once."""


image_package_groups = Table(
    "image_package_groups",
    metadata,
    Column("digest", String(140), nullable=False),
    Column("group_ref", String(32), nullable=False),
    PrimaryKeyConstraint("digest", "group_ref"),
    Index("ix_image_package_groups_group", "group_ref"),
)
"""The reverse index, part 2: the package groups each image's inventory is made of."""


inventory_packages = Table(
    "inventory_packages",
    metadata,
    Column("ref", String(32), primary_key=True),
    Column("doc", LargeBinary, nullable=False),
)
"""Packages by content hash: images sharing base layers share these rows, so a re-match loads
each distinct package once however many images hold it."""
