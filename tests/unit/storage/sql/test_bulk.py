"""`bulk` hands the driver exactly what SQLAlchemy's own bind processors make of each value,
whatever it shares between rows: equal instants written in other zones, NULLs, JSON documents,
bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, Integer, LargeBinary, MetaData, Table, select

from dockwatch.model.times import as_utc_or_none
from dockwatch.storage.sql.bulk import driver_rows, insert_rows, update_by_key
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.schema.base import UTC_TIMESTAMP

_meta = MetaData()
_table = Table(
    "bulk_probe",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("at", UTC_TIMESTAMP),
    Column("doc", JSON),
    Column("blob", LargeBinary),
)
T = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
PLUS2 = timezone(timedelta(hours=2))


def test_rows_reach_the_driver_as_the_column_types_bind_them(tmp_path: Path) -> None:
    rows: list[tuple[Any, ...]] = [
        (1, T, {"a": [1]}, b"\x00\x01"),
        (2, T.astimezone(PLUS2), {"a": [1]}, b"\x00\x01"),  # the same instant, another zone
        (3, None, None, None),
        (4, T + timedelta(microseconds=1), [], b""),
        (5, T, {"b": 2}, b"x"),
    ]
    db = Database(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        with db.write() as conn:
            _meta.create_all(conn)
            dialect = conn.dialect
            expected = [
                tuple(
                    value
                    if value is None or isinstance(column.type, LargeBinary)
                    else (column.type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v))(value)
                    for column, value in zip(_table.columns, row, strict=True)
                )
                for row in rows
            ]  # fmt: skip
            assert driver_rows(conn, _table, [c.name for c in _table.columns], rows) == expected
            insert_rows(conn, _table, [c.name for c in _table.columns], rows)
            update_by_key(conn, _table, "id", ["at", "doc"], [(T, {"c": 3}, 5)])
        with db.read() as conn:
            stored = conn.execute(select(_table).order_by(_table.c.id)).all()
    finally:
        db.close()
    # read back, row 2 left out: SQLite's DateTime keeps an aware time's wall clock (callers
    # pass UTC), so it is judged by the bind comparison above only
    read = [(i, as_utc_or_none(at), doc, blob) for i, at, doc, blob in stored if i != 2]
    assert read == [
        (1, T, {"a": [1]}, b"\x00\x01"),
        (3, None, None, None),
        (4, T + timedelta(microseconds=1), [], b""),
        (5, T, {"c": 3}, b"x"),
    ]


def test_a_value_repeated_row_after_row_binds_as_each_row_alone(tmp_path: Path) -> None:
    """A batch stamps its rows with one time object: repeated, alternating with an equal instant
    in another zone, and with a JSON document repeated as one object, each row still binds what
    the column type makes of its own value."""
    other = T.astimezone(PLUS2)
    doc = {"a": [1]}
    values = [T, T, other, other, T, None, T, other, T + timedelta(seconds=1), T]
    rows: list[tuple[Any, ...]] = [
        (n, at, doc if n % 3 else None, b"x") for n, at in enumerate(values)
    ]
    db = Database(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        with db.write() as conn:
            dialect = conn.dialect
            expected = [
                tuple(
                    value
                    if value is None or isinstance(column.type, LargeBinary)
                    else (column.type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v))(value)
                    for column, value in zip(_table.columns, row, strict=True)
                )
                for row in rows
            ]  # fmt: skip
            assert driver_rows(conn, _table, [c.name for c in _table.columns], rows) == expected
    finally:
        db.close()
