"""Many-row writes of plain tuples through the driver's `executemany`.

SQLAlchemy Core builds a parameter dict and processes every value of every row; an import of
tens of thousands of advisories, or a rescan writing a finding and an event per affected pair
(about 35 us a row at 13,000 rows, more than SQLite's own insert), spends more time there than
in the database. Here the statement is written once, only the columns whose type needs it are
converted (timestamps on SQLite), each distinct value once (a batch stamps every row with the
same time), and the rows go to the driver as they are. Binary columns are passed as `bytes`,
which both drivers (sqlite3, psycopg) bind as blobs: the dialect's `Binary` wrapper would only
copy them (with it, 3,800 ms of 11,900 ms profiled in an import of 5,500 AlmaLinux advisories
went to binding; without, 1,700 ms). On PostgreSQL the rows go in as one COPY (`copy_rows`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, LargeBinary, Table
from sqlalchemy.exc import DBAPIError


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _processor(conn: Connection, table: Table, name: str) -> Callable[[Any], Any] | None:
    kind = table.c[name].type
    if isinstance(kind, LargeBinary):
        return None
    dialect = conn.dialect
    processor: Callable[[Any], Any] | None = kind.dialect_impl(dialect).bind_processor(dialect)
    return processor


def _column(values: Sequence[Any], process: Callable[[Any], Any]) -> tuple[Any, ...]:
    """One column's values as the driver takes them, each distinct value processed once."""
    seen: dict[Any, Any] = {}
    out: list[Any] = []
    last: Any = None
    last_got: Any = None
    for value in values:
        if value is None:
            out.append(None)
            continue
        if value is last:  # the same object as the row before (a batch's one `now`)
            out.append(last_got)
            continue
        # equal instants in other zones print differently: the offset is part of the key
        key = (value, value.utcoffset()) if isinstance(value, datetime) else value
        try:
            got = seen.get(key)
        except TypeError:  # an unhashable value (a JSON document): processed as it comes
            out.append(process(value))
            continue
        if got is None:
            got = seen[key] = process(value)
        out.append(got)
        last, last_got = value, got
    return tuple(out)


def driver_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """The rows (values in `columns` order) with each value as the driver takes it."""
    processors = [(i, _processor(conn, table, name)) for i, name in enumerate(columns)]
    converted = [(i, p) for i, p in processors if p is not None]
    if not converted or not rows:
        return list(rows)
    by_column = list(zip(*rows, strict=True))
    for i, process in converted:
        by_column[i] = _column(by_column[i], process)
    return list(zip(*by_column, strict=True))


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """INSERT `rows` (values in `columns` order) into `table` in one executemany, in order
    (PostgreSQL: one COPY)."""
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    if conn.dialect.name == "postgresql":
        copy_rows(conn, quote(table.name), table, columns, rows)
        return
    sql = (
        f"INSERT INTO {quote(table.name)} ({names}) "
        f"VALUES ({', '.join([_mark(conn)] * len(columns))})"
    )
    conn.exec_driver_sql(sql, driver_rows(conn, table, columns, rows))


def copy_rows(
    conn: Connection,
    target: str,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """`insert_rows` on PostgreSQL: one COPY of the rows into `target` (`table`'s quoted name,
    or a temporary table with its columns), each value bound as `table`'s column binds it
    (psycopg adapts it as it does a parameter; the row triggers fire as for an INSERT).
    `executemany` sends each row as its own statement: an import of the shared snapshot's JSON
    sources spent 0.94 CPU-s of this process writing them and took 1.71 s, with COPY 0.36
    CPU-s and 1.30 s (`bench/vulndb.py --postgres`). A driver error is raised as SQLAlchemy
    raises it for a statement."""
    quote = conn.dialect.identifier_preparer.quote
    sql = f"COPY {target} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    driver = conn.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cur, cur.copy(sql) as copy:
            write = copy.write_row
            for row in driver_rows(conn, table, columns, rows):
                write(row)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            sql, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from exc


def update_by_key(
    conn: Connection,
    table: Table,
    key: str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """UPDATE `columns` of the rows whose `key` column is each row's last value, in one
    executemany (a row is the `columns` values, then the key)."""
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    mark = _mark(conn)
    sql = (
        f"UPDATE {quote(table.name)} SET {', '.join(f'{quote(c)} = {mark}' for c in columns)} "
        f"WHERE {quote(key)} = {mark}"
    )
    conn.exec_driver_sql(sql, driver_rows(conn, table, [*columns, key], rows))
