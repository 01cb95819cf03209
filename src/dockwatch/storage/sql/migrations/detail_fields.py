"""Migration findings/8: the fields of finding detail documents that filters compare, as
columns (`storage/sql/detail_columns.py`); on SQLite the documents compressed
(`schema/detail_document.py`), PostgreSQL keeps its JSON."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, inspect, text

from dockwatch.storage.sql import tables
from dockwatch.storage.sql.detail_columns import PACKAGE_COLUMNS, detail_columns, package_columns
from dockwatch.storage.sql.schema.detail_document import pack, unpack

BATCH = 1000
"""Details read and written again at a time (about 2 MB of documents)."""

ADDED = {
    "finding_details": ("vendor_severity", "related_vulnerabilities"),
    "detail_packages": PACKAGE_COLUMNS,
}
"""The columns findings/8 adds, by table."""


def _add_columns(conn: Connection) -> None:
    for table, names in ADDED.items():
        have = {c["name"] for c in inspect(conn).get_columns(table)}
        for name in names:
            if name not in have:
                kind = tables.metadata.tables[table].c[name].type.compile(conn.dialect)
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}"))


def findings_8_detail_columns(conn: Connection) -> None:
    """Every stored detail read once, a batch at a time in `ref` order: its filter fields
    written to the new columns of its row and of its package rows, and on SQLite its document
    written again as `pack` gives it (unless it already is). On SQLite the space the documents
    free goes to the file's free pages, which new rows take first (`VACUUM`, offline, gives it
    back to the file system)."""
    _add_columns(conn)
    sqlite = conn.dialect.name == "sqlite"
    added = ADDED["finding_details"]
    sets = ", ".join(f"{c} = :{c}" for c in added) + (", doc = :doc" if sqlite else "")
    set_detail = text(f"UPDATE finding_details SET {sets} WHERE ref = :ref")
    set_package = text(
        "UPDATE detail_packages SET "
        + ", ".join(f"{c} = :{c}" for c in PACKAGE_COLUMNS)
        + " WHERE detail_ref = :ref AND seq = :seq"
    )
    after = ""
    while True:
        rows = conn.execute(
            text(
                "SELECT ref, doc FROM finding_details WHERE ref > :after ORDER BY ref LIMIT :batch"
            ),
            {"after": after, "batch": BATCH},
        ).all()
        if not rows:
            return
        details, packages = [], []
        for ref, stored in rows:
            doc = unpack(bytes(stored))
            document = orjson.loads(doc)
            columns = detail_columns(document)
            detail = {"ref": ref, **{c: columns[c] for c in added}}
            if sqlite:
                detail["doc"] = pack(doc)
            details.append(detail)
            packages += [
                {"ref": ref, "seq": seq, **values}
                for seq, values in enumerate(package_columns(document))
            ]
        conn.execute(set_detail, details)
        if packages:
            conn.execute(set_package, packages)
        after = rows[-1][0]
