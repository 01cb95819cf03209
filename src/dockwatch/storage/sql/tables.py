"""Table definitions shared by SQLite and PostgreSQL.

Every table holding tenant data carries `account_id` and `region`. Timestamps are stored as
timezone-aware UTC.

The definitions live in `storage/sql/schema/`, one module per subsystem; this module names
them all, so code reads `tables.findings` wherever a table is defined.
"""

from __future__ import annotations

from dockwatch.storage.sql.schema.accounts import access_keys, accounts
from dockwatch.storage.sql.schema.audit import audit_log
from dockwatch.storage.sql.schema.base import metadata
from dockwatch.storage.sql.schema.count_log import finding_count_log
from dockwatch.storage.sql.schema.ecr import lifecycle_policies, lifecycle_previews, resource_tags
from dockwatch.storage.sql.schema.events import (
    jobs,
    outbox,
    outbox_cursors,
    webhook_deliveries,
    webhooks,
)
from dockwatch.storage.sql.schema.findings import (
    FINDING_SORT_INDEXES,
    FIRST_SECOND,
    ROLLUP_SEVERITIES,
    SEVERITY_RANK_SQL,
    detail_packages,
    finding_detail_counts,
    finding_details,
    finding_image_counts,
    finding_image_first_counts,
    finding_image_fix_counts,
    finding_image_score_counts,
    finding_layer_counts,
    finding_package_counts,
    finding_rollup_deferrals,
    finding_tenants,
    finding_title_counts,
    findings,
    suppression_rules,
)
from dockwatch.storage.sql.schema.organization import inspector_delegated_admins, inspector_members
from dockwatch.storage.sql.schema.policies import pull_allowances, pull_policies
from dockwatch.storage.sql.schema.registry import (
    blobs,
    manifest_contents,
    manifest_references,
    manifests,
    repositories,
    repository_blobs,
    repository_policies,
    schema_migrations,
    tags,
    uploads,
    users,
)
from dockwatch.storage.sql.schema.scans import (
    catalog_layer_facts,
    catalog_results,
    image_inventories,
    image_package_groups,
    image_scans,
    inventory_packages,
    package_groups,
    scan_settings,
)
from dockwatch.storage.sql.schema.vulns import (
    vuln_advisories,
    vuln_affected,
    vuln_changes,
    vuln_enrichment,
    vuln_leases,
    vuln_sources,
    vuln_versions,
)

__all__ = [
    "access_keys",
    "accounts",
    "lifecycle_policies",
    "lifecycle_previews",
    "resource_tags",
    "FINDING_SORT_INDEXES",
    "FIRST_SECOND",
    "ROLLUP_SEVERITIES",
    "SEVERITY_RANK_SQL",
    "audit_log",
    "blobs",
    "catalog_layer_facts",
    "catalog_results",
    "detail_packages",
    "finding_count_log",
    "finding_detail_counts",
    "finding_details",
    "finding_image_counts",
    "finding_image_first_counts",
    "finding_image_fix_counts",
    "finding_image_score_counts",
    "finding_layer_counts",
    "finding_package_counts",
    "finding_rollup_deferrals",
    "finding_tenants",
    "finding_title_counts",
    "findings",
    "image_inventories",
    "image_package_groups",
    "image_scans",
    "inventory_packages",
    "jobs",
    "manifest_contents",
    "manifest_references",
    "manifests",
    "metadata",
    "outbox",
    "outbox_cursors",
    "package_groups",
    "pull_allowances",
    "pull_policies",
    "repositories",
    "repository_blobs",
    "repository_policies",
    "scan_settings",
    "schema_migrations",
    "suppression_rules",
    "tags",
    "uploads",
    "users",
    "vuln_advisories",
    "vuln_affected",
    "vuln_changes",
    "vuln_enrichment",
    "vuln_leases",
    "vuln_sources",
    "vuln_versions",
    "webhook_deliveries",
    "webhooks",
    "inspector_delegated_admins",
    "inspector_members",
]
