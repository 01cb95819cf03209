"""Migration findings/7: the detail rollup keeps each detail's title and package names (the
migrations package is at its size limit)."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, select, text, update

from dockwatch.storage.sql import tables

ADDED = ("title", "package_names")


def findings_7_detail_names(conn: Connection) -> None:
    """`finding_detail_counts.title` and `.package_names` (functions of `detail_ref`, so no
    count changes), filled for the rows stored: PACKAGE and TITLE aggregations read them
    instead of joining each row with its detail. SQLite's triggers are installed again with
    the statements that write them; PostgreSQL's fold writes them through the same sources
    (`rollup_sources.detail_source`), its triggers do not change."""
    from dockwatch.storage.sql import rollup_sources, rollups

    table = tables.finding_detail_counts
    have = {c["name"] for c in inspect(conn).get_columns(table.name)}
    for name in ADDED:
        if name not in have:
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {name} TEXT"))
    ref = table.c.detail_ref
    filled = {
        "title": rollup_sources.detail_title(ref),
        "package_names": rollup_sources.package_names(conn.dialect.name, ref),
    }
    if conn.dialect.name == "postgresql":
        # the rows are written again into an emptied table: an UPDATE of every row would
        # leave the table twice its size (each old row version stays until a VACUUM FULL)
        # and every aggregation that scans it reads the dead half too
        rows = select(*[filled[c.name].label(c.name) if c.name in filled else c for c in table.c])
        compiled = rows.compile(conn, compile_kwargs={"literal_binds": True})
        conn.execute(text(f"CREATE TEMP TABLE detail_counts_named ON COMMIT DROP AS {compiled}"))
        conn.execute(text(f"TRUNCATE {table.name}"))
        names = ", ".join(c.name for c in table.c)  # an older table has them in other places
        conn.execute(
            text(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM detail_counts_named")
        )
        conn.execute(text("DROP TABLE detail_counts_named"))
        conn.execute(text(f"ANALYZE {table.name}"))  # the planner's view of the new columns
        return
    conn.execute(update(table).values(**filled))
    if rollups.enabled(conn):
        rollups.install_triggers(conn)
