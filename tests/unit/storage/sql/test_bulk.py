"""`bulk` hands the driver exactly what SQLAlchemy's own bind processors make of each value,
whatever it shares between rows: equal instants written in other zones, NULLs, JSON documents,
bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Boolean, Column, Integer, LargeBinary, MetaData, Table, Text, select
from sqlalchemy.exc import IntegrityError

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


_copy_meta = MetaData()


def _probe(name: str) -> Table:
    return Table(
        name,
        _copy_meta,
        Column("id", Integer, primary_key=True),
        Column("at", UTC_TIMESTAMP),
        Column("doc", JSON),
        Column("blob", LargeBinary),
        Column("text", Text),
        Column("flag", Boolean),
    )


_copied, _inserted = _probe("copied"), _probe("inserted")


def test_rows_copied_into_postgresql_read_back_as_inserted_ones(postgres_url: str) -> None:
    """On PostgreSQL `insert_rows` is one COPY: each value is stored as SQLAlchemy's own INSERT
    of it stores it (the twin table, filled statement by statement), the text format's special
    characters included."""
    tricky = ["tab\there", "new\nline", "back\\slash", "\\N", "", "naïve ✓", "quote'\""]
    rows: list[tuple[Any, ...]] = [
        (n, T.astimezone(PLUS2) if n % 2 else T + timedelta(microseconds=n), {"n": [n, text]},
         bytearray(b"\x00\\\n" * n) if n % 3 else bytes([n, 0, 255]), text, n % 2 == 0)
        for n, text in enumerate(tricky)
    ] + [(99, None, None, None, None, None)]  # fmt: skip
    columns = [c.name for c in _copied.columns]
    db = Database(postgres_url)
    try:
        with db.write() as conn:
            _copy_meta.create_all(conn)
            insert_rows(conn, _copied, columns, rows)
            conn.execute(_inserted.insert(), [dict(zip(columns, row, strict=True)) for row in rows])
        with db.read() as conn:
            copied = conn.execute(select(_copied).order_by(_copied.c.id)).all()
            inserted = conn.execute(select(_inserted).order_by(_inserted.c.id)).all()
    finally:
        db.close()
    assert len(copied) == len(rows)
    assert copied == inserted
    assert [r.text for r in copied] == [*tricky, None]


def test_a_refused_copy_raises_what_a_refused_insert_raises(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        with db.write() as conn:
            _copy_meta.create_all(conn)
        with pytest.raises(IntegrityError), db.write() as conn:
            insert_rows(conn, _copied, ["id", "text"], [(1, "a"), (1, "again")])
        with db.read() as conn:  # nothing of the refused transaction is kept
            assert conn.execute(select(_copied)).all() == []
    finally:
        db.close()
