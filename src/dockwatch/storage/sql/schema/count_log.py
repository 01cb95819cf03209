"""The finding count log: PostgreSQL's rollups are kept through it (storage/sql/pg_rollups.py)."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, SmallInteger, String, Table

from dockwatch.storage.sql.schema.base import metadata, tenant_columns
from dockwatch.storage.sql.schema.epoch_micros import EPOCH_MICROS_TIMESTAMP

finding_count_log = Table(
    "finding_count_log",
    metadata,
    Column("sign", SmallInteger, nullable=False),
    *tenant_columns(),
    Column("status", String(16), nullable=False),
    Column("repository_id", Integer, nullable=False),
    Column("repository_name", String(256), nullable=False),
    Column("digest", String(140), nullable=False),
    Column("vulnerability_id", String(128), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("fix_available", String(8), nullable=False),
    Column("exploit_available", String(8), nullable=False),
    Column("detail_ref", String(32), nullable=False),
    Column("source", String(64), nullable=False),
    Column("inspector_score", Float),
    Column("epss_score", Float),
    # since migration findings/13 (`finding_image_first_counts` counts by it); NULL only in
    # rows logged before it, which that migration folds first
    Column("first_observed_at", EPOCH_MICROS_TIMESTAMP),
)
"""One row per finding row counted in (`sign` 1: inserted, or the new values of an update) or
out (-1: deleted, or the old values), with every `findings` column a rollup counts by. Writers
only append (no key, no index: nothing two writers could both lock); the fold moves the rows
into the rollup tables. Empty on SQLite, whose triggers update the rollups directly."""
