"""Multi-row inserts of plain tuples through the driver's `executemany`.

SQLAlchemy Core builds a parameter dict and processes every value of every row; an import of
tens of thousands of advisories spends more time there than in the database. Here the statement
is written once, values are converted once per column that needs it (timestamps on SQLite), and
the rows go to the driver as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """INSERT `rows` (values in `columns` order) into `table` in one executemany."""
    if not rows:
        return
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    ]
    if any(p is not None for p in processors):
        rows = [
            tuple(
                v if p is None or v is None else p(v) for p, v in zip(processors, row, strict=True)
            )
            for row in rows
        ]
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))})"
    )
    conn.exec_driver_sql(sql, list(rows))
