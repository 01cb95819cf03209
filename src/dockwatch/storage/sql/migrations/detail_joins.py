"""Migration findings/5: covering indexes for the detail rollups' joins, and on SQLite the two
detail rollups as WITHOUT ROWID tables (the migrations package is at its size limit)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table, text

from dockwatch.storage.sql import tables


def findings_5_detail_joins(conn: Connection) -> None:
    """Covering indexes for the joins of aggregations summing the detail rollup (a detail's
    package names, its title), and on SQLite the two detail rollups as WITHOUT ROWID tables
    (their primary key is the whole key: one b-tree instead of a table and an index, about
    half the disk). Their rows are copied as they are, with the triggers set aside meanwhile,
    so every count stays what it was."""
    conn.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_detail_packages_detail_name "
            "ON detail_packages (detail_ref, name, seq)"
        )
    )
    conn.execute(
        text("CREATE INDEX IF NOT EXISTS ix_finding_details_title ON finding_details (ref, title)")
    )
    without_rowid(conn, (tables.finding_detail_counts, tables.finding_image_fix_counts))


def without_rowid(conn: Connection, rollup_tables: Sequence[Table]) -> None:
    """SQLite: each rollup table made again as its declaration says (WITHOUT ROWID), its rows
    copied as they are with the triggers set aside meanwhile, so every count stays what it was;
    tables already so are left. Nothing to do on PostgreSQL."""
    from dockwatch.storage.sql import rollups

    if conn.dialect.name != "sqlite":
        return
    triggers = rollups.enabled(conn)
    if triggers:
        rollups.drop_triggers(conn)  # their statements name the tables being replaced
    for table in rollup_tables:
        sql = conn.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
            {"name": table.name},
        ).scalar()
        if sql is None:
            table.create(conn)
            continue
        if "WITHOUT ROWID" in sql.upper():
            continue
        old = f"{table.name}_rowid"
        had = {r[1] for r in conn.execute(text(f"PRAGMA table_info({table.name})"))}
        conn.execute(text(f"ALTER TABLE {table.name} RENAME TO {old}"))
        table.create(conn)
        if {c.name for c in table.primary_key.columns} <= had:
            # columns a later migration adds (findings/7) are filled there
            names = ", ".join(c.name for c in table.columns if c.name in had)
            conn.execute(text(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {old}"))
        elif triggers:  # a key a later migration adds (findings/12): counted from the findings
            rollups.rebuild(conn, [table])
        conn.execute(text(f"DROP TABLE {old}"))
    if triggers:
        rollups.install_triggers(conn)
