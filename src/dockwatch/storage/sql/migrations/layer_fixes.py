"""Migration findings/12: the layer rollup keyed by fix and exploit availability too."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

from dockwatch.storage.sql import tables


def findings_12_layer_fixes(conn: Connection) -> None:
    """`finding_layer_counts` made again with `fix_available` and `exploit_available` in its key
    (IMAGE_LAYER aggregations filtered on them sum its rows) and filled from the findings
    stored, as `rollups.rebuild` computes it; a table that has them already (a database created
    with them) is left as it is. SQLite's triggers are installed again with the statements that
    write the new columns, after the table they name is replaced. On PostgreSQL the fold is held
    meanwhile (its advisory lock, which other folds only try) and writers of findings wait for
    the fill (`rebuild`'s SHARE lock); the fold's statements come from the same sources, its
    triggers do not change."""
    from dockwatch.storage.sql import pg_rollups, rollups

    table = tables.finding_layer_counts
    have = {c["name"] for c in inspect(conn).get_columns(table.name)}
    if {"fix_available", "exploit_available"} <= have:
        return
    kept = rollups.enabled(conn)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": pg_rollups.FOLD_LOCK_KEY})
        conn.execute(text("LOCK TABLE findings IN SHARE MODE"))
    elif kept:
        rollups.drop_triggers(conn)  # their statements name the table being replaced
    table.drop(conn)
    table.create(conn)
    if not kept:
        return  # no rollups kept here: `rollups.install` fills every table when they are
    if conn.dialect.name != "postgresql":
        rollups.install_triggers(conn)
    rollups.rebuild(conn, [table])
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ANALYZE {table.name}"))
