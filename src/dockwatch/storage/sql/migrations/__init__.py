"""Numbered schema migrations per subsystem, applied in order at start-up.

Migration 1 of each subsystem is the baseline: it creates its tables from `tables.py`. Every later
migration must be safe on a database whose baseline already has its change (a fresh database is
created from the current `tables.py`), so it inspects before it alters. A plain list of functions
instead of Alembic: migrations run embedded at every start of `serve` and of each CLI command,
need no env.py or ini file, and the same list runs on both dialects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, inspect, select, text

from dockwatch.errors import BackendUnavailable
from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import finding_tenants, tables
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations.count_log import findings_6_count_log
from dockwatch.storage.sql.migrations.dense_tenant_keys import findings_11_dense_tenant_keys
from dockwatch.storage.sql.migrations.detail_fields import findings_8_detail_columns
from dockwatch.storage.sql.migrations.detail_image_index import findings_10_detail_image_index
from dockwatch.storage.sql.migrations.detail_joins import findings_5_detail_joins
from dockwatch.storage.sql.migrations.detail_names import findings_7_detail_names
from dockwatch.storage.sql.migrations.epoch_times import listing_5_epoch_micros
from dockwatch.storage.sql.migrations.first_seen_rollup import findings_13_first_seen_rollup
from dockwatch.storage.sql.migrations.image_key_index import findings_14_image_key_index
from dockwatch.storage.sql.migrations.layer_fixes import findings_12_layer_fixes
from dockwatch.storage.sql.migrations.rollup_fillfactor import findings_18_rollup_fillfactor
from dockwatch.storage.sql.migrations.rollup_tables import findings_9_rollups_without_rowid
from dockwatch.storage.sql.migrations.score_rollup import findings_15_score_rollup
from dockwatch.storage.sql.migrations.stored_order import (
    create_sort_indexes,
    listing_2_indexes,
    listing_3_seq,
)
from dockwatch.storage.sql.migrations.tenant_keys import listing_4_tenant_keys
from dockwatch.value_class import frozen

logger = logging.getLogger(__name__)

MIGRATION_LOCK_KEY = 0x646F636B77617463  # "dockwatc": the PostgreSQL advisory lock of `migrate`


@frozen
class Migration:
    """One schema step."""

    subsystem: str
    number: int
    name: str
    apply: Callable[[Connection], None]


def _baseline(*names: str) -> Callable[[Connection], None]:
    def apply(conn: Connection) -> None:
        tables.metadata.create_all(conn, tables=[tables.metadata.tables[n] for n in names])

    return apply


def _scan_2_details(conn: Connection) -> None:
    """Findings keep their content in `finding_details` by hash, packages get refs.

    Findings move with their lifecycle (ids, status, timestamps); the derived reverse index and
    inventories are dropped and every ACTIVE enhanced image is queued for a scan, which rebuilds
    them from the layer catalog cache (no layer is read again).
    """
    import hashlib

    import orjson

    insp = inspect(conn)
    tables.metadata.create_all(
        conn,
        tables=[
            tables.inventory_packages,
            tables.finding_details,
            tables.detail_packages,
            tables.package_groups,
            tables.image_package_groups,
        ],
    )
    if "detail_ref" in {c["name"] for c in insp.get_columns("findings")}:
        return  # created from the current tables.py
    old = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM findings"))]
    for index in ("ix_findings_image", "ix_findings_status"):
        conn.execute(text(f"DROP INDEX IF EXISTS {index}"))
    conn.execute(text("DROP TABLE findings"))
    conn.execute(text("DROP TABLE IF EXISTS image_package_keys"))
    made = [tables.findings, tables.finding_tenants, tables.package_groups]
    tables.metadata.create_all(conn, tables=[*made, tables.image_package_groups])
    conn.execute(tables.image_inventories.delete())
    names = {r.id: r.name for r in conn.execute(select(tables.repositories))}
    keys = finding_tenants.ensure_keys(conn, {Tenant(r["account_id"], r["region"]) for r in old})
    seen: set[str] = set()
    now = datetime.now(UTC)
    for row in old:
        detail = orjson.loads(row.pop("detail"))
        doc = orjson.dumps(detail, option=orjson.OPT_SORT_KEYS)
        ref = hashlib.sha256(doc).hexdigest()[:32]
        if ref not in seen:
            seen.add(ref)
            conn.execute(
                tables.finding_details.insert().values(
                    ref=ref, doc=doc, title=detail.get("title"), created_at=now
                )
            )
        conn.execute(
            tables.findings.insert().values(
                **row,
                tenant_key=keys[Tenant(row["account_id"], row["region"])],
                repository_name=names.get(row["repository_id"], ""),
                detail_ref=ref,
                exploit_available=detail.get("exploitAvailable") or "NO",
                inspector_score=detail.get("inspectorScore"),
            )
        )
    s = tables.image_scans
    for r in conn.execute(
        select(s.c.repository_id, s.c.digest).where(
            s.c.scan_type == "ENHANCED", s.c.status_code == "ACTIVE"
        )
    ):
        conn.execute(
            tables.jobs.insert().values(
                kind="scan",
                key=f"migrate-scan-2:{r.repository_id}:{r.digest}",
                payload=orjson.dumps(
                    {"repository": names.get(r.repository_id, ""), "digest": r.digest}
                ).decode(),
                state="queued",
                attempts=0,
                created_at=now,
                updated_at=now,
            )
        )


def _findings_1_rollups(conn: Connection) -> None:
    """Counts for aggregations, kept by triggers on `findings` (storage/sql/rollups.py); filled
    from the findings already stored. Re-run `rollups.install` after any migration that
    recreates `findings` (dropping a table drops its triggers)."""
    from dockwatch.storage.sql import rollups

    rollups.install(conn)


def _findings_2(conn: Connection) -> None:
    """`finding_details.title`, filled from the documents; the triggers, which now read it
    instead of parsing each document, are installed again (and the counts rebuilt)."""
    from dockwatch.storage.sql import rollups

    if "title" not in {c["name"] for c in inspect(conn).get_columns("finding_details")}:
        conn.execute(text("ALTER TABLE finding_details ADD COLUMN title TEXT"))
        if conn.dialect.name == "sqlite":
            conn.execute(
                text(
                    "UPDATE finding_details SET title = json_extract(CAST(doc AS TEXT), '$.title')"
                )
            )
    rollups.drop_triggers(conn)
    rollups.install(conn)


def _listing_1(conn: Connection) -> None:
    """Sort keys (generated columns) and their indexes for keyset listings, and the
    `suppression_rules` table; all declared in tables.py, so this only adds what a database
    made from an older tables.py lacks."""
    have = {c["name"] for c in inspect(conn).get_columns("findings")}
    stored = "VIRTUAL" if conn.dialect.name == "sqlite" else "STORED"  # PostgreSQL: STORED only
    for column in ("severity_rank", "score_key", "epss_key"):
        if column not in have:
            col = tables.findings.c[column]
            assert col.computed is not None
            kind = col.type.compile(dialect=conn.dialect)
            conn.execute(
                text(
                    f"ALTER TABLE findings ADD COLUMN {column} {kind} "
                    f"GENERATED ALWAYS AS ({col.computed.sqltext}) {stored}"
                )
            )
    create_sort_indexes(conn)
    tables.suppression_rules.create(conn, checkfirst=True)


def _webhooks_2_sealed_secrets(conn: Connection) -> None:
    """Room for sealed webhook secrets (longer than the plaintext): a text column on
    PostgreSQL (SQLite does not bound strings). The plaintext rows themselves are sealed at
    start by the webhook deliverer, which holds the key (kept out of the database)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE webhooks ALTER COLUMN secret TYPE TEXT"))


def _scan_3_activation(conn: Connection) -> None:
    """`image_scans.last_activated_at` (when monitoring of an image last started: the re-scan
    duration counts from it; existing rows count from their first push until set) and
    `scan_settings.activation_epoch` (how many times enhanced scanning was turned off: findings
    opened after a re-activation get new ids)."""
    insp = inspect(conn)
    if "last_activated_at" not in {c["name"] for c in insp.get_columns("image_scans")}:
        kind = tables.image_scans.c.last_activated_at.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE image_scans ADD COLUMN last_activated_at {kind}"))
    if "activation_epoch" not in {c["name"] for c in insp.get_columns("scan_settings")}:
        conn.execute(
            text("ALTER TABLE scan_settings ADD COLUMN activation_epoch INTEGER NOT NULL DEFAULT 0")
        )


def _scan_4_job_leases(conn: Connection) -> None:
    """`jobs.lease_until`: a claim is a lease that a worker renews, so a job whose worker died
    is claimed again. On PostgreSQL, partial indexes for the two claim queries (queued jobs by
    age, running jobs by lease end): small, since most jobs are done."""
    if "lease_until" not in {c["name"] for c in inspect(conn).get_columns("jobs")}:
        kind = tables.jobs.c.lease_until.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE jobs ADD COLUMN lease_until {kind}"))
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("CREATE INDEX IF NOT EXISTS ix_jobs_queued ON jobs (id) WHERE state = 'queued'")
        )
        conn.execute(
            text(
                "CREATE INDEX IF NOT EXISTS ix_jobs_lease ON jobs (lease_until) "
                "WHERE state = 'running'"
            )
        )


def _findings_3_batches(conn: Connection) -> None:
    """`finding_rollup_deferrals`, and the triggers again: they now stand aside while a batch
    writer counts its batch itself (storage/sql/rollup_batches.py). The counts do not change."""
    from dockwatch.storage.sql import rollups

    tables.finding_rollup_deferrals.create(conn, checkfirst=True)
    if rollups.enabled(conn):
        rollups.install_triggers(conn)


def _findings_4_details(conn: Connection) -> None:
    """`finding_detail_counts` and `finding_image_fix_counts` (storage/sql/rollups.py):
    aggregations with criteria on what a finding is (fix, exploit, scores, vulnerability,
    title, packages) sum them instead of reading every finding. Where the triggers keep rollups (SQLite), they are installed again with its
    statements and the table is filled from the findings stored; the other counts do not
    change."""
    from dockwatch.storage.sql import rollups

    added = [tables.finding_detail_counts, tables.finding_image_fix_counts]
    for table in added:
        table.create(conn, checkfirst=True)
    if rollups.enabled(conn):
        rollups.install_triggers(conn)
        rollups.rebuild(conn, added)


def _findings_17_deferred_counts(conn: Connection) -> None:
    """PostgreSQL: the count log's triggers again, now standing aside for a transaction that
    defers them (`pg_rollups.defer_counts`): a large batch of new findings is counted by its
    writer (`rollup_batches.inserted_once`). The counts do not change; nothing on SQLite."""
    from dockwatch.storage.sql import pg_rollups

    if conn.dialect.name == "postgresql" and pg_rollups.installed(conn):
        pg_rollups.install_triggers(conn)


def _events_2_batches(conn: Connection) -> None:
    """Outbox rows may hold a batch of events (`storage/sql/outbox_batches.py`); rows already
    stored hold one event each."""
    have = {c["name"] for c in inspect(conn).get_columns("outbox")}
    blob = "BYTEA" if conn.dialect.name == "postgresql" else "BLOB"
    if "events" not in have:
        conn.execute(text("ALTER TABLE outbox ADD COLUMN events INTEGER NOT NULL DEFAULT 1"))
    if "packed" not in have:
        conn.execute(text(f"ALTER TABLE outbox ADD COLUMN packed {blob}"))


def _vulns_3_read_digests(conn: Connection) -> None:
    """`vuln_advisories.read_digest`: the digest of the bytes each record was read from, so
    that an import does not read unchanged records again. Stored advisories have none until
    an import reads their records once more (it records them, changing nothing else)."""
    if "read_digest" not in {c["name"] for c in inspect(conn).get_columns("vuln_advisories")}:
        conn.execute(text("ALTER TABLE vuln_advisories ADD COLUMN read_digest VARCHAR(64)"))


MIGRATIONS: list[Migration] = [
    Migration(
        "registry",
        1,
        "baseline",
        _baseline(
            "users",
            "repositories",
            "blobs",
            "repository_blobs",
            "manifest_contents",
            "manifests",
            "manifest_references",
            "tags",
            "uploads",
        ),
    ),
    Migration("events", 1, "baseline", _baseline("outbox", "outbox_cursors")),
    Migration(
        "vulns",
        1,
        "baseline",
        _baseline(
            "vuln_sources",
            "vuln_versions",
            "vuln_advisories",
            "vuln_affected",
            "vuln_changes",
            "vuln_enrichment",
        ),
    ),
    Migration("vulns", 2, "feed sync lease", _baseline("vuln_leases")),
    Migration("catalog", 1, "baseline", _baseline("catalog_results", "catalog_layer_facts")),
    Migration(
        "scan",
        1,
        "baseline",
        _baseline(
            "scan_settings",
            "image_scans",
            "image_inventories",
            "package_groups",
            "image_package_groups",
            "inventory_packages",
            "finding_details",
            "detail_packages",
            "findings",
            "jobs",
        ),
    ),
    Migration("scan", 2, "content-addressed finding details", _scan_2_details),
    Migration("webhooks", 1, "baseline", _baseline("webhooks", "webhook_deliveries")),
    Migration("findings", 1, "finding rollups kept by triggers", _findings_1_rollups),
    Migration("listing", 1, "finding sort indexes, suppression rules", _listing_1),
    Migration("findings", 2, "detail titles in a column for the rollup triggers", _findings_2),
    Migration("webhooks", 2, "sealed secrets", _webhooks_2_sealed_secrets),
    Migration(
        "policies", 1, "pull policies and allowances", _baseline("pull_policies", "pull_allowances")
    ),
    Migration("audit", 1, "baseline", _baseline("audit_log")),
    Migration("scan", 3, "monitoring start and activation epoch", _scan_3_activation),
    Migration("scan", 4, "job leases", _scan_4_job_leases),
    Migration("accounts", 1, "accounts and access keys", _baseline("accounts", "access_keys")),
    Migration(
        "ecr",
        1,
        "resource tags, lifecycle policies and previews",
        _baseline("resource_tags", "lifecycle_policies", "lifecycle_previews"),
    ),
    Migration("tenancy", 1, "repository policies", _baseline("repository_policies")),
    Migration(
        "organization",
        1,
        "Inspector delegated administrators and members",
        _baseline("inspector_delegated_admins", "inspector_members"),
    ),
    Migration("findings", 3, "rollups counted once per batch of writes", _findings_3_batches),
    Migration("listing", 2, "finding indexes kept to those a query needs", listing_2_indexes),
    Migration("events", 2, "batch rows of finding events", _events_2_batches),
    Migration("listing", 3, "findings in stored order: the sort indexes' tie-break", listing_3_seq),
    Migration(
        "findings", 4, "finding counts per detail for filtered aggregations", _findings_4_details
    ),
    Migration("findings", 5, "covering detail joins, no rowid", findings_5_detail_joins),
    Migration("listing", 4, "sort indexes led by an integer tenant key", listing_4_tenant_keys),
    Migration("findings", 6, "rollups on PostgreSQL through a count log", findings_6_count_log),
    Migration(
        "listing", 5, "finding times as integer microseconds on SQLite", listing_5_epoch_micros
    ),
    Migration(
        "findings",
        7,
        "detail titles and package names in the detail rollup",
        findings_7_detail_names,
    ),
    Migration("findings", 8, "filter columns, compressed details", findings_8_detail_columns),
    Migration("findings", 9, "rollups without rowid", findings_9_rollups_without_rowid),
    Migration("findings", 10, "image keys in a detail index", findings_10_detail_image_index),
    Migration("findings", 11, "dense tenant keys", findings_11_dense_tenant_keys),
    Migration("findings", 12, "layer rollup keyed by fix and exploit", findings_12_layer_fixes),
    Migration(
        "findings", 13, "finding counts per image and first second", findings_13_first_seen_rollup
    ),
    Migration("findings", 14, "image index by image key", findings_14_image_key_index),
    Migration("findings", 15, "finding counts per image and score", findings_15_score_rollup),
    Migration("findings", 16, "updatedAt sort index", create_sort_indexes),
    Migration("vulns", 3, "read digests of stored records", _vulns_3_read_digests),
    Migration(
        "findings",
        17,
        "count log triggers deferred for a counted batch",
        _findings_17_deferred_counts,
    ),
    Migration(
        "findings",
        18,
        "room for updates in the rollup tables' pages",
        findings_18_rollup_fillfactor,
    ),
]


def migrate(db: Database, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply every migration not yet recorded; returns the ones applied."""
    todo = MIGRATIONS if migrations is None else migrations
    applied: list[Migration] = []
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            # several processes starting at once on one database: one migrates, the others wait
            # here and then find every step recorded (DDL is transactional on PostgreSQL)
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        tables.schema_migrations.create(conn, checkfirst=True)
        done = {
            (r.subsystem, r.number)
            for r in conn.execute(
                select(tables.schema_migrations.c.subsystem, tables.schema_migrations.c.number)
            )
        }
        for m in todo:
            if (m.subsystem, m.number) in done:
                continue
            logger.info("applying migration %s/%04d %s", m.subsystem, m.number, m.name)
            m.apply(conn)
            conn.execute(
                tables.schema_migrations.insert().values(
                    subsystem=m.subsystem,
                    number=m.number,
                    name=m.name,
                    applied_at=datetime.now(UTC),
                )
            )
            applied.append(m)
    return applied


class SchemaNotCurrent(BackendUnavailable):
    """Migration at start is off and the database lacks migrations this version needs."""


def pending(db: Database, migrations: list[Migration] | None = None) -> list[Migration]:
    """The migrations not yet recorded in the database (all of them on an empty one);
    reads only, so it is safe beside a `dockwatch migrate` running elsewhere."""
    todo = MIGRATIONS if migrations is None else migrations
    with db.engine.connect() as conn:
        if not inspect(conn).has_table(tables.schema_migrations.name):
            return list(todo)
        rows = conn.execute(
            select(tables.schema_migrations.c.subsystem, tables.schema_migrations.c.number)
        )
        done = {(r.subsystem, r.number) for r in rows}
    return [m for m in todo if (m.subsystem, m.number) not in done]


def require_current(db: Database) -> None:
    """Raise SchemaNotCurrent, saying what to run, unless every migration is applied."""
    missing = pending(db)
    if missing:
        first = missing[0]
        raise SchemaNotCurrent(
            f"the database is not at the current schema ({len(missing)} migration(s) not "
            f"applied, the first {first.subsystem}/{first.number:04d} {first.name}); run "
            "`dockwatch migrate` first (migration at start is off)"
        )
