"""Migration findings/10: `findings.image_key` and `ix_findings_detail_image`, the index that
answers image-grain aggregations filtered by the detail document, and an index of the details'
vendor severities (`schema/findings.py`)."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

from dockwatch.storage.sql import tables


def findings_10_detail_image_index(conn: Connection) -> None:
    """The image key column (VIRTUAL on SQLite: no bytes in the table; STORED on PostgreSQL,
    which rewrites the table once), then `ix_findings_detail_image` in place of
    `ix_findings_detail`: it leads with the detail ref as that one did, so every query that
    used it seeks the same way; and `ix_finding_details_vendor_severity`."""
    column = tables.findings.c.image_key
    if column.name not in {c["name"] for c in inspect(conn).get_columns("findings")}:
        assert column.computed is not None
        kind = column.type.compile(dialect=conn.dialect)
        stored = "VIRTUAL" if conn.dialect.name == "sqlite" else "STORED"
        conn.execute(
            text(
                f"ALTER TABLE findings ADD COLUMN {column.name} {kind} "
                f"GENERATED ALWAYS AS ({column.computed.sqltext}) {stored}"
            )
        )
    for table, name in (
        (tables.findings, "ix_findings_detail_image"),
        (tables.finding_details, "ix_finding_details_vendor_severity"),
    ):
        (index,) = [i for i in table.indexes if i.name == name]
        index.create(conn, checkfirst=True)
    conn.execute(text("DROP INDEX IF EXISTS ix_findings_detail"))
