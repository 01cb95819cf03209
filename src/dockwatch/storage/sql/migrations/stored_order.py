"""Migrations listing/2 and /3: finding indexes kept to those a query needs, and findings in
stored order (`seq`), the tie-break of every sort index."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

from dockwatch.storage.sql import tables
from dockwatch.storage.sql.migrations.tenant_keys import (
    add_findings_indexes,
    remake_findings_sqlite,
    stored_value,
)


def listing_2_indexes(conn: Connection) -> None:
    """Finding indexes kept to those a query needs (measured in `schema/findings.py`): drops
    the digest and (repository, severity) indexes, whose filters now reach `ix_findings_image`,
    and the old status index; adds `ix_findings_status_rank` and the partial
    `ix_findings_suppressed_rule`. Writes of findings maintain four fewer full-size indexes."""
    for name in (
        "ix_findings_digest",
        "ix_findings_repository_severity",
        "ix_findings_status",
        "ix_findings_suppressed_by",
    ):
        conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    create_sort_indexes(conn)


def create_sort_indexes(conn: Connection) -> None:
    """The finding sort indexes this dialect spells (`schema/findings.py`), those missing; on
    a table without `seq` or `tenant_key` none: listing/3 and /4 add them, then the indexes."""
    if not {"seq", "tenant_key"} <= {c["name"] for c in inspect(conn).get_columns("findings")}:
        return
    for index in tables.FINDING_SORT_INDEXES:
        index.create(conn, checkfirst=True)


def _findings_with_seq_sqlite(conn: Connection) -> None:
    """SQLite cannot change a primary key in place: the table is made again with the rows in
    their stored order (the old rowid becomes `seq`)."""
    had = {c["name"] for c in inspect(conn).get_columns("findings")} | {"tenant_key"}
    names = [
        c.name
        for c in tables.findings.columns
        if c.computed is None and c.name != "seq" and c.name in had
    ]
    columns = ", ".join(names)
    values = ", ".join(stored_value(n) for n in names)
    remake_findings_sqlite(
        conn,
        lambda into: (
            f"INSERT INTO {into} (seq, {columns}) SELECT rowid, {values} FROM findings "
            "ORDER BY rowid"
        ),
    )


def _findings_with_seq_postgresql(conn: Connection) -> None:
    """PostgreSQL adds the column in place (numbered from its sequence), moves the primary key
    to it and keeps `id` unique; the sort indexes are made again ending with `seq`."""
    pk = inspect(conn).get_pk_constraint("findings").get("name") or "findings_pkey"
    conn.execute(text("ALTER TABLE findings ADD COLUMN seq BIGSERIAL NOT NULL"))
    conn.execute(text(f'ALTER TABLE findings DROP CONSTRAINT "{pk}"'))
    conn.execute(text("ALTER TABLE findings ADD PRIMARY KEY (seq)"))
    for index in tables.FINDING_SORT_INDEXES:
        if index.table is tables.findings:
            conn.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
    add_findings_indexes(conn)


def listing_3_seq(conn: Connection) -> None:
    """`findings.seq`, the order findings were stored in, as the primary key (the finding id
    keeps a unique index) and the tie-break of the sort indexes, which pages now resume after:
    a new finding appends to the end of its key's run in each sort index instead of landing on
    a random page, and each entry is 33 bytes shorter. A database made from the current
    `tables.py` has it already."""
    if "seq" not in {c["name"] for c in inspect(conn).get_columns("findings")}:
        if conn.dialect.name == "sqlite":
            _findings_with_seq_sqlite(conn)
        else:
            _findings_with_seq_postgresql(conn)
    create_sort_indexes(conn)
