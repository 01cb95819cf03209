"""Table definitions shared by SQLite and PostgreSQL.

Every table holding tenant data carries `account_id` and `region`. Timestamps are stored as
timezone-aware UTC.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

_ts = DateTime(timezone=True)


def _tenant() -> list[Column[str]]:
    return [
        Column("account_id", String(12), nullable=False),
        Column("region", String(32), nullable=False),
    ]


schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("subsystem", String(32), nullable=False),
    Column("number", Integer, nullable=False),
    Column("name", String(128), nullable=False),
    Column("applied_at", _ts, nullable=False),
    PrimaryKeyConstraint("subsystem", "number"),
)

users = Table(
    "users",
    metadata,
    *_tenant(),
    Column("username", String(128), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("created_at", _ts, nullable=False),
    PrimaryKeyConstraint("account_id", "username"),
)

repositories = Table(
    "repositories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *_tenant(),
    Column("name", String(256), nullable=False),
    Column("created_at", _ts, nullable=False),
    Column("image_tag_mutability", String(16), nullable=False, server_default="MUTABLE"),
    Column("scan_on_push", Boolean, nullable=False, server_default="0"),
    UniqueConstraint("account_id", "region", "name", name="uq_repositories_name"),
)

blobs = Table(
    "blobs",
    metadata,
    Column("digest", String(140), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", _ts, nullable=False),
)

repository_blobs = Table(
    "repository_blobs",
    metadata,
    *_tenant(),
    Column("repository_id", Integer, ForeignKey("repositories.id"), nullable=False),
    Column("digest", String(140), ForeignKey("blobs.digest"), nullable=False),
    Column("linked_at", _ts, nullable=False),
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
    *_tenant(),
    Column("repository_id", Integer, ForeignKey("repositories.id"), nullable=False),
    Column("digest", String(140), ForeignKey("manifest_contents.digest"), nullable=False),
    Column("media_type", String(256), nullable=False),
    Column("artifact_type", String(256)),
    Column("subject_digest", String(140)),
    Column("size", BigInteger, nullable=False),
    Column("image_pushed_at", _ts, nullable=False),
    Column("last_pushed_at", _ts, nullable=False),
    Column("last_pulled_at", _ts),
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
    *_tenant(),
    Column("repository_id", Integer, ForeignKey("repositories.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("manifest_digest", String(140), nullable=False),
    Column("updated_at", _ts, nullable=False),
    PrimaryKeyConstraint("repository_id", "name"),
    Index("ix_tags_digest", "repository_id", "manifest_digest"),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(64), primary_key=True),
    *_tenant(),
    Column("repository_id", Integer, ForeignKey("repositories.id"), nullable=False),
    Column("started_at", _ts, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *_tenant(),
    Column("event_type", String(64), nullable=False),
    Column("subject", String(512), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", _ts, nullable=False),
    Index("ix_outbox_type", "event_type", "id"),
)

outbox_cursors = Table(
    "outbox_cursors",
    metadata,
    Column("subscriber", String(64), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
    Column("updated_at", _ts, nullable=False),
)

# --- vulnerability database ------------------------------------------------------------------
# Advisory data is shared by every tenant (it is public), so these tables carry no account.

vuln_sources = Table(
    "vuln_sources",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("feed_version", Integer, nullable=False, server_default="0"),
    Column("fingerprint", Text),
    Column("records", Integer, nullable=False, server_default="0"),
    Column("last_attempt_at", _ts),
    Column("last_success_at", _ts),
    Column("last_change_at", _ts),
    Column("last_error", Text),
    Column("last_error_at", _ts),
)

vuln_versions = Table(
    "vuln_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=True),
    Column("created_at", _ts, nullable=False),
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
    Column("modified", _ts),
    Column("version", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
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
    Column("expires_at", _ts, nullable=False),
)

# --- catalog: per-layer results, shared by every image and repository holding the layer -------

catalog_results = Table(
    "catalog_results",
    metadata,
    Column("layer_digest", String(140), nullable=False),
    Column("cataloger", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("result", LargeBinary, nullable=False),
    Column("created_at", _ts, nullable=False),
    PrimaryKeyConstraint("layer_digest", "cataloger", "version"),
)

catalog_layer_facts = Table(
    "catalog_layer_facts",
    metadata,
    Column("layer_digest", String(140), nullable=False),
    Column("version", Integer, nullable=False),
    Column("facts", LargeBinary, nullable=False),
    Column("created_at", _ts, nullable=False),
    PrimaryKeyConstraint("layer_digest", "version"),
)

# --- scanning: settings, per-image scan state, inventories, the reverse index, jobs ------------

scan_settings = Table(
    "scan_settings",
    metadata,
    *_tenant(),
    Column("scanning_configuration", Text, nullable=False),
    Column("ecr_configuration", Text, nullable=False),
    Column("updated_at", _ts, nullable=False),
    PrimaryKeyConstraint("account_id", "region"),
)

image_scans = Table(
    "image_scans",
    metadata,
    *_tenant(),
    Column("repository_id", Integer, ForeignKey("repositories.id"), nullable=False),
    Column("digest", String(140), nullable=False),
    Column("scan_type", String(16), nullable=False),
    Column("status_code", String(16), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("last_scanned_at", _ts),
    Column("db_version", Integer, nullable=False, server_default="0"),
    Column("os_ecosystem", String(64)),
    Column("unsupported_os", Text),
    Column("basic_findings", LargeBinary),
    Column("last_manual_scan_at", _ts),
    Column("updated_at", _ts, nullable=False),
    PrimaryKeyConstraint("repository_id", "digest"),
)

image_inventories = Table(
    "image_inventories",
    metadata,
    Column("digest", String(140), primary_key=True),
    Column("distro", Text),
    Column("packages", LargeBinary, nullable=False),
    Column("catalogers", Text, nullable=False),
    Column("created_at", _ts, nullable=False),
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

finding_details = Table(
    "finding_details",
    metadata,
    Column("ref", String(32), primary_key=True),
    Column("doc", LargeBinary, nullable=False),
    Column("title", Text),
    Column("created_at", _ts, nullable=False),
)
"""A finding's content (title, scores, vulnerable packages, evidence) by content hash: the same
vulnerability in the same packages of the same layers reads the same in every image, so 50,000
images gaining one finding write one detail row, not 50,000."""

detail_packages = Table(
    "detail_packages",
    metadata,
    Column("detail_ref", String(32), ForeignKey("finding_details.ref"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("pkg_ref", String(32), nullable=False),
    Column("name", String(512), nullable=False),
    Column("version", String(256), nullable=False),
    Column("package_manager", String(32), nullable=False),
    Column("source_layer_hash", String(140)),
    Column("fixed_in_version", String(256)),
    Column("file_path", Text),
    PrimaryKeyConstraint("detail_ref", "seq"),
    Index("ix_detail_packages_pkg", "pkg_ref"),
    Index("ix_detail_packages_name", "name"),
    Index("ix_detail_packages_layer", "source_layer_hash"),
)
"""The vulnerable packages of a finding detail, as rows: package filters and aggregations by
package and layer query these, and a re-match finds the findings a package is part of."""

SEVERITY_RANK_SQL = (
    "CASE severity WHEN 'CRITICAL' THEN 5 WHEN 'HIGH' THEN 4 WHEN 'MEDIUM' THEN 3 "
    "WHEN 'LOW' THEN 2 WHEN 'INFORMATIONAL' THEN 1 ELSE 0 END"
)
"""Severity as a number (UNTRIAGED lowest) for sorting findings by severity."""

findings = Table(
    "findings",
    metadata,
    Column("id", String(32), primary_key=True),
    *_tenant(),
    Column("repository_id", Integer, ForeignKey("repositories.id"), nullable=False),
    Column("repository_name", String(256), nullable=False),
    Column("digest", String(140), nullable=False),
    Column("vulnerability_id", String(128), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("fix_available", String(8), nullable=False),
    Column("exploit_available", String(8), nullable=False, server_default="NO"),
    Column("inspector_score", Float),
    Column("epss_score", Float),
    Column("source", String(64), nullable=False, server_default=""),
    Column("first_observed_at", _ts, nullable=False),
    Column("last_observed_at", _ts, nullable=False),
    Column("updated_at", _ts, nullable=False),
    Column("closed_at", _ts),
    Column("detail_ref", String(32), ForeignKey("finding_details.ref"), nullable=False),
    Column("suppressed_by", String(64)),
    # sort keys for keyset listings (findings/listing.py), computed by the database (STORED:
    # PostgreSQL knows no other kind; migration listing/1 adds them VIRTUAL to older SQLite files)
    Column("severity_rank", Integer, Computed(SEVERITY_RANK_SQL, persisted=True)),
    Column("score_key", Float, Computed("coalesce(inspector_score, -1.0)", persisted=True)),
    Column("epss_key", Float, Computed("coalesce(epss_score, -1.0)", persisted=True)),
    Index("ix_findings_image", "repository_id", "digest", "vulnerability_id"),
    Index("ix_findings_status", "account_id", "region", "status", "severity"),
    Index("ix_findings_vuln", "vulnerability_id"),
    Index("ix_findings_detail", "detail_ref"),
)

# --- finding listings (findings/listing.py): one index per sort key, (tenant, key, id), so a
# keyset page seeks to its first row and reads one page
FINDING_SORT_INDEXES = (
    Index("ix_findings_sort_severity", findings.c.account_id, findings.c.region,
          findings.c.severity_rank, findings.c.id),
    Index("ix_findings_sort_first", findings.c.account_id, findings.c.region,
          findings.c.first_observed_at, findings.c.id),
    Index("ix_findings_sort_last", findings.c.account_id, findings.c.region,
          findings.c.last_observed_at, findings.c.id),
    Index("ix_findings_sort_status", findings.c.account_id, findings.c.region, findings.c.status,
          findings.c.id),
    Index("ix_findings_sort_repository", findings.c.account_id, findings.c.region,
          findings.c.repository_name, findings.c.id),
    Index("ix_findings_repository_severity", findings.c.account_id, findings.c.region,
          findings.c.repository_name, findings.c.severity_rank, findings.c.id),
    Index("ix_findings_sort_vulnerability", findings.c.account_id, findings.c.region,
          findings.c.vulnerability_id, findings.c.id),
    Index("ix_findings_sort_source", findings.c.account_id, findings.c.region, findings.c.source,
          findings.c.id),
    Index("ix_findings_sort_score", findings.c.account_id, findings.c.region,
          findings.c.score_key, findings.c.id),
    Index("ix_findings_sort_epss", findings.c.account_id, findings.c.region,
          findings.c.epss_key, findings.c.id),
    Index("ix_findings_digest", findings.c.account_id, findings.c.region, findings.c.digest),
    Index("ix_findings_suppressed_by", findings.c.account_id, findings.c.region,
          findings.c.suppressed_by),
    Index("ix_tags_name", tags.c.name),  # `ecrImageTags` filters look tags up by name
)  # fmt: skip

suppression_rules = Table(
    "suppression_rules",
    metadata,
    Column("id", String(32), primary_key=True),
    *_tenant(),
    Column("arn", String(256), nullable=False),
    Column("name", String(128), nullable=False),
    Column("description", Text),
    Column("reason", Text),
    Column("action", String(16), nullable=False),
    Column("criteria", Text, nullable=False),
    Column("tags", Text, nullable=False, server_default="{}"),
    Column("expires_at", _ts),
    Column("expired_at", _ts),
    Column("created_at", _ts, nullable=False),
    Column("updated_at", _ts, nullable=False),
    UniqueConstraint("account_id", "region", "name", name="uq_suppression_rules_name"),
    Index("ix_suppression_rules_tenant", "account_id", "region", "created_at"),
)
"""Inspector filters (findings/suppression.py): SUPPRESS rules suppress the findings their
criteria match until deleted or `expires_at`; NONE rules are saved filters. `expired_at` marks
a rule whose expiry has been applied to the findings."""

# --- finding rollups: counts kept by triggers in the writing transaction (storage/sql/rollups.py)
# so aggregations read thousands of rows, not a million findings

ROLLUP_SEVERITIES = ("critical", "high", "medium", "low", "informational", "untriaged")
"""The count column of each severity in every rollup table."""


def _rollup(name: str, *columns: Column[Any], key: tuple[str, ...]) -> Table:
    return Table(
        name,
        metadata,
        *_tenant(),
        Column("status", String(16), nullable=False),
        *columns,
        *[Column(s, Integer, nullable=False) for s in ROLLUP_SEVERITIES],
        PrimaryKeyConstraint("account_id", "region", "status", *key),
    )


finding_image_counts = _rollup(
    "finding_image_counts",
    Column("repository_id", Integer, nullable=False),
    Column("digest", String(140), nullable=False),
    Column("repository_name", String(256), nullable=False),
    Column("fix_yes", Integer, nullable=False),
    Column("fix_partial", Integer, nullable=False),
    Column("exploit_yes", Integer, nullable=False),
    key=("repository_id", "digest"),
)
finding_layer_counts = _rollup(
    "finding_layer_counts",
    Column("repository_id", Integer, nullable=False),
    Column("digest", String(140), nullable=False),
    Column("layer_hash", String(140), nullable=False),
    Column("repository_name", String(256), nullable=False),
    key=("repository_id", "digest", "layer_hash"),
)
finding_package_counts = _rollup(
    "finding_package_counts",
    Column("package_name", String(512), nullable=False),
    key=("package_name",),
)
finding_title_counts = _rollup(
    "finding_title_counts",
    Column("vulnerability_id", String(128), nullable=False),
    Column("title", Text, nullable=False),
    key=("vulnerability_id", "title"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("key", String(256), nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("error", Text),
    Column("created_at", _ts, nullable=False),
    Column("updated_at", _ts, nullable=False),
    UniqueConstraint("key", name="uq_jobs_key"),
    Index("ix_jobs_state", "state", "id"),
)

# --- webhooks: subscriptions and their delivery log (one row per attempt) ----------------------

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(36), primary_key=True),
    *_tenant(),
    Column("url", Text, nullable=False),
    Column("secret", String(512), nullable=False),
    Column("event_types", Text, nullable=False),  # JSON list; empty means every deliverable type
    Column("description", Text, nullable=False, server_default=""),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("insecure_skip_verify", Boolean, nullable=False, server_default="0"),
    Column("start_after_id", BigInteger, nullable=False),  # outbox events up to here predate it
    Column("created_at", _ts, nullable=False),
    Index("ix_webhooks_tenant", "account_id", "region", "created_at"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("webhook_id", String(36), ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", BigInteger, nullable=False),  # outbox.id
    Column("attempt", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # PENDING, DELIVERED, FAILED, GAVE_UP
    Column("http_status", Integer),
    Column("error", Text),
    Column("duration_ms", Integer),
    Column("next_attempt_at", _ts, nullable=False),
    Column("lease_until", _ts),
    Column("started_at", _ts, nullable=False),  # when the delivery (attempt 1) was created
    Column("attempted_at", _ts),
    Column("created_at", _ts, nullable=False),
    Column("updated_at", _ts, nullable=False),
    UniqueConstraint("webhook_id", "event_id", "attempt", name="uq_webhook_deliveries_attempt"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
)
