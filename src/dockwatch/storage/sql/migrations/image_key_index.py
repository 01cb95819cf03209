"""Migration findings/14: `ix_findings_image` led by the image key instead of the digest, and no
`ix_findings_vuln` (`schema/findings.py`)."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

from dockwatch.storage.sql import tables


def findings_14_image_key_index(conn: Connection) -> None:
    """`ix_findings_image` made again on (repository id, image key, vulnerability id): at
    1,000,000 findings 39 bytes a finding where the digest made it 125, and every query that
    names an image names its key beside its digest. `ix_findings_vuln` goes: a rescan by
    vulnerability seeks `ix_findings_sort_vulnerability` once per tenant key. A database made
    from the current `tables.py` has both already."""
    (index,) = [i for i in tables.findings.indexes if i.name == "ix_findings_image"]
    wanted = [c.name for c in index.columns]
    have = {str(ix["name"]): ix["column_names"] for ix in inspect(conn).get_indexes("findings")}
    if "ix_findings_image" in have and list(have["ix_findings_image"]) != wanted:
        conn.execute(text("DROP INDEX ix_findings_image"))
    index.create(conn, checkfirst=True)
    conn.execute(text("DROP INDEX IF EXISTS ix_findings_vuln"))
