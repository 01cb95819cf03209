"""Migration listing/5: on SQLite, the findings' timestamps as integer microseconds since 1970
(`schema/epoch_micros.py`) instead of `DateTime`'s 26-character text; PostgreSQL's
`timestamptz` is kept as it is."""

from __future__ import annotations

from sqlalchemy import Connection, text

from dockwatch.storage.sql import tables
from dockwatch.storage.sql.migrations.tenant_keys import remake_findings_sqlite, stored_value
from dockwatch.storage.sql.schema.epoch_micros import micros_from_text_sql

TIME_COLUMNS = ("first_observed_at", "last_observed_at", "updated_at", "closed_at")
"""The findings columns stored as `EpochMicros` on SQLite."""


def _has_text(conn: Connection) -> bool:
    """Whether the SQLite table declares a time column as text or holds a text time (a table
    that an earlier migration of the same run made again from the current declaration, with
    its old values copied in as they were)."""
    ddl = conn.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'findings'")
    ).scalar_one()
    if "DATETIME" in ddl.upper():
        return True
    texts = " OR ".join(f"typeof({c}) = 'text'" for c in TIME_COLUMNS)
    return conn.execute(text(f"SELECT 1 FROM findings WHERE {texts} LIMIT 1")).first() is not None


def listing_5_epoch_micros(conn: Connection) -> None:
    """SQLite: the findings table made again from `tables.py` (its time columns INTEGER), every
    row copied in `seq` order with each time converted to microseconds (`micros_from_text_sql`);
    its indexes and triggers made again as they were. 19 bytes less for each time in a row and
    in each of the two time sort indexes. Nothing to do on PostgreSQL."""
    if conn.dialect.name != "sqlite" or not _has_text(conn):
        return
    names = [c.name for c in tables.findings.columns if c.computed is None]
    values = ", ".join(
        micros_from_text_sql(n) if n in TIME_COLUMNS else stored_value(n) for n in names
    )
    columns = ", ".join(names)
    remake_findings_sqlite(
        conn,
        lambda into: f"INSERT INTO {into} ({columns}) SELECT {values} FROM findings ORDER BY seq",
    )
