"""Tables of the vulnerability database. Advisory data is shared by every tenant (it is public)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from dockwatch.storage.sql.schema.base import UTC_TIMESTAMP, metadata

vuln_sources = Table(
    "vuln_sources",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("feed_version", Integer, nullable=False, server_default="0"),
    Column("fingerprint", Text),
    Column("records", Integer, nullable=False, server_default="0"),
    Column("last_attempt_at", UTC_TIMESTAMP),
    Column("last_success_at", UTC_TIMESTAMP),
    Column("last_change_at", UTC_TIMESTAMP),
    Column("last_error", Text),
    Column("last_error_at", UTC_TIMESTAMP),
)


vuln_versions = Table(
    "vuln_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=True),
    Column("created_at", UTC_TIMESTAMP, nullable=False),
    Column("source", String(64), nullable=False),
    Column("summary", Text, nullable=False),
)


vuln_advisories = Table(
    "vuln_advisories",
    metadata,
    Column("source", String(64), nullable=False),
    Column("id", String(256), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("withdrawn", Boolean, nullable=False),
    Column("modified", UTC_TIMESTAMP),
    Column("version", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    # the digest of the record file's bytes it was read from (`feeds/record_digest.py`): an
    # import does not read those bytes again (since migration vulns/3)
    Column("read_digest", String(64)),
    PrimaryKeyConstraint("source", "id"),
)


vuln_affected = Table(
    "vuln_affected",
    metadata,
    Column("source", String(64), nullable=False),
    Column("advisory_id", String(256), nullable=False),
    Column("ecosystem", String(64), nullable=False),
    Column("name", String(512), nullable=False),
    Column("entry", LargeBinary, nullable=False),
    Index("ix_vuln_affected_package", "ecosystem", "name"),
    Index("ix_vuln_affected_advisory", "source", "advisory_id"),
)


vuln_changes = Table(
    "vuln_changes",
    metadata,
    Column("version", Integer, nullable=False),
    Column("source", String(64), nullable=False),
    Column("advisory_id", String(256), nullable=False),
    Column("change", String(16), nullable=False),
    Column("package_keys", Text, nullable=False),
    Index("ix_vuln_changes_version", "version"),
)


vuln_enrichment = Table(
    "vuln_enrichment",
    metadata,
    Column("kind", String(16), nullable=False),  # kev, epss, nvd
    Column("cve_id", String(32), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    PrimaryKeyConstraint("kind", "cve_id"),
)


vuln_leases = Table(  # one feed sync at a time across the server and `db sync`
    "vuln_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", UTC_TIMESTAMP, nullable=False),
)
