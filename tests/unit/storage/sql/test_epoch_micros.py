"""`EpochMicros`: any aware (or naive, UTC) datetime goes into SQLite as an integer and comes
back as the same instant to the microsecond, in UTC; the integers sort and compare as the
instants do (checked against Python's own ordering); and the migration's SQL turns the text
SQLAlchemy's `DateTime` wrote into the integer `EpochMicros` writes for the same instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select
from sqlalchemy.dialects import sqlite

from dockwatch.storage.sql.bulk import insert_rows
from dockwatch.storage.sql.schema.base import UTC_TIMESTAMP
from dockwatch.storage.sql.schema.epoch_micros import (
    EPOCH_MICROS_TIMESTAMP,
    from_micros,
    micros_from_text_sql,
    to_micros,
)

_meta = MetaData()
_probe = Table(
    "probe",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("at", EPOCH_MICROS_TIMESTAMP),
)
_zones = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
_instants = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=_zones
)
"""Aware datetimes to the microsecond in zones from -14:00 to +14:00."""


@given(_instants)
def test_the_integer_is_the_microseconds_since_1970_and_reads_back_the_same_instant(
    at: datetime,
) -> None:
    micros = to_micros(at)
    utc = at.astimezone(UTC)
    seconds = int((utc.replace(microsecond=0) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
    assert micros == seconds * 1_000_000 + utc.microsecond
    back = from_micros(micros)
    assert back == at and back.tzinfo is UTC and back.microsecond == utc.microsecond


@given(_instants.map(lambda at: at.astimezone(UTC).replace(tzinfo=None)))
def test_a_naive_datetime_is_taken_as_utc(at: datetime) -> None:
    assert from_micros(to_micros(at)) == at.replace(tzinfo=UTC)


@settings(max_examples=25, deadline=None)
@given(st.lists(_instants, min_size=1, max_size=40))
def test_times_round_trip_through_sqlite_and_sort_as_instants(moments: list[datetime]) -> None:
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        _meta.create_all(conn)
        half = len(moments) // 2  # half through Core, half through the bulk writer
        if half:
            conn.execute(insert(_probe), [{"id": i, "at": m} for i, m in enumerate(moments[:half])])
        insert_rows(conn, _probe, ["id", "at"], list(enumerate(moments))[half:])
        stored = conn.exec_driver_sql("SELECT DISTINCT typeof(at) FROM probe").all()
        assert stored == [("integer",)]
        back = {r.id: r.at for r in conn.execute(select(_probe.c.id, _probe.c.at))}
        assert all(back[i] == m and back[i].tzinfo is UTC for i, m in enumerate(moments))
        ordered = conn.execute(select(_probe.c.id).order_by(_probe.c.at, _probe.c.id)).scalars()
        assert list(ordered) == sorted(range(len(moments)), key=lambda i: (moments[i], i))
        pivot = moments[0]
        later = set(conn.execute(select(_probe.c.id).where(_probe.c.at >= pivot)).scalars())
        assert later == {i for i, m in enumerate(moments) if m >= pivot}
    engine.dispose()


_old_text = UTC_TIMESTAMP.dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect())
"""What SQLAlchemy's `DateTime` stored on SQLite before listing/5 (the text of a UTC time)."""


@given(st.lists(_instants, min_size=1, max_size=30))
def test_the_migration_sql_turns_stored_text_into_the_same_integer(moments: list[datetime]) -> None:
    assert _old_text is not None
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        for at in moments:
            old = _old_text(at.astimezone(UTC))
            got = conn.exec_driver_sql(
                f"SELECT {micros_from_text_sql('t')} FROM (SELECT ? AS t)", (old,)
            ).scalar()
            assert got == to_micros(at), old
        # integers already converted and NULLs are kept
        kept = conn.exec_driver_sql(
            f"SELECT {micros_from_text_sql('t')} FROM (SELECT ? AS t UNION ALL SELECT NULL)",
            (to_micros(moments[0]),),
        ).all()
        assert kept == [(to_micros(moments[0]),), (None,)]
    engine.dispose()


def test_text_without_a_fraction_or_with_a_short_one_converts(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 't.db'}")
    with engine.connect() as conn:
        for old, want in (
            ("2026-12-05 21:58:29", datetime(2026, 12, 5, 21, 58, 29, tzinfo=UTC)),
            ("2026-12-05 21:58:29.5", datetime(2026, 12, 5, 21, 58, 29, 500_000, tzinfo=UTC)),
            ("1969-12-31 23:59:59.000001", datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC)),
        ):
            got = conn.exec_driver_sql(
                f"SELECT {micros_from_text_sql('t')} FROM (SELECT ? AS t)", (old,)
            ).scalar()
            assert got == to_micros(want), old
    engine.dispose()
