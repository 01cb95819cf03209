"""Migration findings/10: `findings.image_key`, `findings.status_code` and
`ix_findings_detail_image` on them, the index that answers image-grain aggregations filtered by
the detail document, and an index of the details' vendor severities (`schema/findings.py`)."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

from dockwatch.storage.sql import tables


def findings_10_detail_image_index(conn: Connection) -> None:
    """The image key and status code columns (VIRTUAL on SQLite: no bytes in the table; STORED
    on PostgreSQL, which rewrites the table once for both), then `ix_findings_detail_image` in
    place of `ix_findings_detail`: it leads with the detail ref as that one did, so every query
    that used it seeks the same way; and `ix_finding_details_vendor_severity`."""
    have = {c["name"] for c in inspect(conn).get_columns("findings")}
    stored = "VIRTUAL" if conn.dialect.name == "sqlite" else "STORED"
    added = []
    for column in (tables.findings.c.image_key, tables.findings.c.status_code):
        if column.name not in have:
            assert column.computed is not None
            kind = column.type.compile(dialect=conn.dialect)
            added.append(
                f"ADD COLUMN {column.name} {kind} "
                f"GENERATED ALWAYS AS ({column.computed.sqltext}) {stored}"
            )
    if added and conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE findings " + ", ".join(added)))
    else:  # SQLite adds one column a statement
        for clause in added:
            conn.execute(text("ALTER TABLE findings " + clause))
    for table, name in (
        (tables.findings, "ix_findings_detail_image"),
        (tables.finding_details, "ix_finding_details_vendor_severity"),
    ):
        (index,) = [i for i in table.indexes if i.name == name]
        index.create(conn, checkfirst=True)
    conn.execute(text("DROP INDEX IF EXISTS ix_findings_detail"))
    if added and conn.dialect.name == "postgresql":  # statistics of the rewritten table
        conn.execute(text("ANALYZE findings"))
