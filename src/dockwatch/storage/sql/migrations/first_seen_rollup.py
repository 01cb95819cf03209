"""Migration findings/13: `finding_image_first_counts`, findings per image, status and the second
they were first observed in (`schema/findings.py`), filled from the findings stored and kept
from then on by the rollups' triggers (SQLite) or the count log (PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import Connection, Table, inspect, text

from dockwatch.storage.sql import tables


def _log_has_first_observed(conn: Connection) -> bool:
    columns = inspect(conn).get_columns(tables.finding_count_log.name)
    return "first_observed_at" in {c["name"] for c in columns}


def findings_13_first_seen_rollup(conn: Connection) -> None:
    """The table created (a database made from the current `tables.py` has it already) and
    filled again from `findings` whatever it held: a fill is exact on any database.

    PostgreSQL: writers of findings wait meanwhile (a SHARE lock on `findings`); the count log
    gains `first_observed_at` and the rows it held, logged without it, are folded into the
    other rollups first, then the row triggers log the new column and the table is filled.
    SQLite: the triggers are made again with the new table's statements (when the rollups are
    kept), then the table is filled; the count log (empty there) gains the column too."""
    log = tables.finding_count_log
    log.create(conn, checkfirst=True)
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE findings IN SHARE MODE"))
    if not _log_has_first_observed(conn):
        kind = log.c.first_observed_at.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE {log.name} ADD COLUMN first_observed_at {kind}"))
    add_rollup(conn, tables.finding_image_first_counts)


def add_rollup(conn: Connection, added: Table) -> None:
    """A new rollup table `added` created if missing and filled from `findings`, with the
    triggers made again to keep it (when the rollups are kept). PostgreSQL: writers of findings
    wait (a SHARE lock); the count log's rows are folded first into the rollups that exist
    (those a later migration adds are filled from the findings then), so that the fill from
    the findings and the log count nothing twice."""
    from dockwatch.storage.sql import pg_rollups, rollups

    postgresql = conn.dialect.name == "postgresql"
    kept = rollups.enabled(conn)
    if postgresql:
        conn.execute(text("LOCK TABLE findings IN SHARE MODE"))
    if postgresql and kept:
        # a fold earlier in this session made its temporary table like the log as it was then
        # (findings/13 adds a column): made again by this fold
        conn.execute(text("DROP TABLE IF EXISTS pg_temp.finding_count_folding"))
        others = [table for table in pg_rollups.existing(conn) if table is not added]
        pg_rollups.fold(conn, wait=True, only=others)
    added.create(conn, checkfirst=True)
    if kept:
        rollups.install_triggers(conn)
        rollups.rebuild(conn, only=[added])
