"""Migration findings/18: room in the rollup tables' pages on PostgreSQL
(`schema/findings.ROLLUP_FILLFACTOR`)."""

from __future__ import annotations

from sqlalchemy import Connection, inspect

from dockwatch.storage.sql import rollups
from dockwatch.storage.sql.schema.findings import ROLLUP_FILLFACTOR


def findings_18_rollup_fillfactor(conn: Connection) -> None:
    """Each rollup table filled to `ROLLUP_FILLFACTOR` and rewritten in key order, so that the
    pages it already has get the room too (the setting alone reaches only new pages); the
    rewrite locks one table at a time, each a few megabytes at 1,000,000 findings. A table
    made from the current `tables.py` has the setting already and is left alone. Nothing on
    SQLite."""
    if conn.dialect.name != "postgresql":
        return
    setting = f"fillfactor={ROLLUP_FILLFACTOR}"
    for table in rollups.TABLES:
        options = conn.exec_driver_sql(
            "SELECT reloptions FROM pg_class WHERE oid = %s::regclass", (table.name,)
        ).scalar()
        if options is not None and setting in options:
            continue
        key = inspect(conn).get_pk_constraint(table.name)["name"]
        conn.exec_driver_sql(f"ALTER TABLE {table.name} SET ({setting})")
        conn.exec_driver_sql(f'CLUSTER {table.name} USING "{key}"')
