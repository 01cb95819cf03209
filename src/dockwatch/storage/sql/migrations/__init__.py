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
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from dockwatch.storage.sql import tables
from dockwatch.storage.sql.engine import Database

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
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
    Migration("catalog", 1, "baseline", _baseline("catalog_results", "catalog_layer_facts")),
    Migration(
        "scan",
        1,
        "baseline",
        _baseline(
            "scan_settings",
            "image_scans",
            "image_inventories",
            "image_package_keys",
            "findings",
            "jobs",
        ),
    ),
]


def migrate(db: Database, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply every migration not yet recorded; returns the ones applied."""
    todo = MIGRATIONS if migrations is None else migrations
    applied: list[Migration] = []
    with db.write() as conn:
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
