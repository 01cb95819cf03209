"""Migration findings/6: PostgreSQL keeps the finding rollups, through a count log (the
migrations package is at its size limit)."""

from __future__ import annotations

from sqlalchemy import Connection

from dockwatch.storage.sql import tables


def findings_6_count_log(conn: Connection) -> None:
    """`finding_count_log` on both dialects; on PostgreSQL the row triggers appending to it
    (storage/sql/pg_rollups.py) and the six rollup tables filled from the findings stored
    (they were empty there, or held what a copy from SQLite brought, unkept since). Writers of
    findings wait for the fill (a SHARE lock on `findings`); SQLite's rollups do not change."""
    from dockwatch.storage.sql import rollups
    from dockwatch.storage.sql.migrations.layer_fixes import findings_12_layer_fixes

    tables.finding_count_log.create(conn, checkfirst=True)
    if conn.dialect.name == "postgresql":
        findings_12_layer_fixes(conn)  # the layer rollup's key as the fill below writes it
        rollups.install(conn)
