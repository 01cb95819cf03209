"""The persisted match index: a restart opens the file and applies only the changes since;
a file that is corrupt or made from another database state is rebuilt, never used.

The oracle is an index built from the database alone (no file), on both backends."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from dockwatch.clock import ControlledClock
from dockwatch.match.service import MatchIndex, match
from dockwatch.model.advisory import (
    Advisory,
    AdvisoryID,
    Affected,
    Event,
    EventKind,
    Range,
    RangeType,
)
from dockwatch.model.package import Package
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.service import VulnDb

TODAY = date(2026, 11, 26)
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _advisory(aid: str, name: str, fixed: str, ecosystem: str = "PyPI") -> Advisory:
    events = (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, fixed))
    return Advisory(
        id=AdvisoryID(aid),
        source="osv:test",
        affected=(Affected(ecosystem, name, ranges=(Range(RangeType.ECOSYSTEM, events),)),),
    )


INITIAL = [_advisory(f"T-{n}", f"pkg{n % 5}", f"1.{n}") for n in range(10)] + [
    _advisory("G-1", "example.com/mod", "1.2.0", "Go")
]
PACKAGES = [
    Package(name=f"pkg{n}", version=v, type="python", purl=f"pkg:pypi/pkg{n}@{v}")
    for n in range(7)
    for v in ("1.0", "1.4", "2.0")
] + [
    Package(name="example.com/mod", version=v, type="go", purl=f"pkg:golang/example.com/mod@{v}")
    for v in ("1.1.0", "1.3.0")
]


def _matches(index: MatchIndex) -> list[tuple[str, str, str, str | None]]:
    report = match(PACKAGES, None, index, today=TODAY)
    assert report.indeterminate == ()
    return sorted(
        (m.package.name, m.package.version, m.advisory_id, m.fixed_version) for m in report.matches
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'v.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    db = Database(url)
    migrate(db)
    return db


def _vulndb(db: Database, at: datetime = T0) -> tuple[VulnDb, ControlledClock]:
    clock = ControlledClock()
    clock.set(at)
    return VulnDb(SqlStore(db), clock), clock


def test_after_a_delta_the_persisted_index_matches_a_fresh_build(
    database: Database, tmp_path: Path
) -> None:
    vdb, clock = _vulndb(database)
    vdb.apply("osv:test", INITIAL)
    cache = tmp_path / "data" / "match-index.bin"
    first = MatchIndex(SqlStore(database), cache_file=cache)
    before = _matches(first)
    assert first.loaded_from == "database" and cache.exists()
    assert ("pkg1", "1.0", "T-1", "1.1") in before  # introduced 0, fixed 1.1

    clock.advance(timedelta(hours=1))
    withdrawn = dataclasses.replace(INITIAL[6], withdrawn=T0)  # T-6 on pkg1
    revised = _advisory("T-2", "pkg2", "3.0")  # pkg2 now fixed only in 3.0
    added = [_advisory("N-1", "pkg5", "1.5"), _advisory("N-2", "pkg6", "2.5")]
    vdb.apply("osv:test", [withdrawn, revised, *added])

    restarted = MatchIndex(SqlStore(database), cache_file=cache)
    after = _matches(restarted)
    assert restarted.loaded_from == "file+delta"
    fresh = MatchIndex(SqlStore(database))
    assert after == _matches(fresh)
    assert fresh.loaded_from == "database"
    assert restarted.entry_count() == fresh.entry_count() == len(INITIAL) - 1 + len(added)
    assert ("pkg2", "2.0", "T-2", "3.0") in after and ("pkg1", "1.4", "T-6") not in {
        m[:3] for m in after
    }
    assert {m[2] for m in after} - {m[2] for m in before} == {"N-1", "N-2"}

    again = MatchIndex(SqlStore(database), cache_file=cache)  # the file now holds the delta
    assert _matches(again) == after and again.loaded_from == "file"


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    """INITIAL in SQLite, read (never changed) by the tests that damage their own file."""
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('index') / 'v.db'}")
    migrate(db)
    _vulndb(db)[0].apply("osv:test", INITIAL)
    return db


def _corrupt_body(data: bytes) -> bytes:
    return data[:-10] + bytes([data[-10] ^ 0x20]) + data[-9:]


@pytest.mark.parametrize(
    "damage",
    [
        _corrupt_body,
        lambda data: data[: len(data) // 2],
        lambda data: b"",
        lambda data: b"dockwatch-match-index\n\x00\x00\x00\x00\x00\x00\x00\x05{nope" + data[40:],
    ],
    ids=["flipped-bit", "truncated", "empty", "bad-header"],
)
def test_a_corrupt_index_file_is_rebuilt_not_trusted(
    shared_db: Database, tmp_path: Path, damage: object
) -> None:
    db = shared_db
    cache = tmp_path / "match-index.bin"
    expected = _matches(MatchIndex(SqlStore(db), cache_file=cache))
    assert callable(damage)
    cache.write_bytes(damage(cache.read_bytes()))

    rebuilt = MatchIndex(SqlStore(db), cache_file=cache)
    assert _matches(rebuilt) == expected
    assert rebuilt.loaded_from == "database"
    reopened = MatchIndex(SqlStore(db), cache_file=cache)  # the rebuild replaced the bad file
    assert _matches(reopened) == expected and reopened.loaded_from == "file"


def test_an_index_file_of_another_database_state_is_rebuilt(tmp_path: Path) -> None:
    """A file is valid for the version it names and that version's creation time only: another
    database that reached the same version number, or a database restored to an older
    version, rebuilds."""
    cache = tmp_path / "match-index.bin"
    a = Database(f"sqlite:///{tmp_path / 'a.db'}")
    migrate(a)
    _vulndb(a)[0].apply("osv:test", INITIAL)
    MatchIndex(SqlStore(a), cache_file=cache).refresh()

    b = Database(f"sqlite:///{tmp_path / 'b.db'}")  # version 1 too, made later, other data
    migrate(b)
    other = [_advisory("B-1", "pkg1", "9.0")]
    _vulndb(b, T0 + timedelta(days=1))[0].apply("osv:test", other)
    index = MatchIndex(SqlStore(b), cache_file=cache)
    assert index.refresh() == 1
    assert index.loaded_from == "database"
    assert {m[2] for m in _matches(index)} == {"B-1"}
    reopened = MatchIndex(SqlStore(b), cache_file=cache)  # the rebuild replaced a's file whole
    assert {m[2] for m in _matches(reopened)} == {"B-1"} and reopened.loaded_from == "file"

    vdb, clock = _vulndb(a)  # a moves on to version 2 and persists it ...
    clock.advance(timedelta(hours=2))
    vdb.apply("osv:test", [_advisory("A-9", "pkg3", "5.0")])
    MatchIndex(SqlStore(a), cache_file=cache).refresh()
    older = MatchIndex(SqlStore(b), cache_file=cache)  # ... b, at version 1, is "restored"
    assert {m[2] for m in _matches(older)} == {"B-1"}
    assert older.loaded_from == "database"


def test_a_delta_is_appended_to_the_file_not_rewritten(tmp_path: Path) -> None:
    """A start after a delta, and a running server's refresh, add one segment holding the
    changed keys: the bytes already in the file stay as they were."""
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    vdb, clock = _vulndb(db)
    vdb.apply("osv:test", INITIAL)
    cache = tmp_path / "match-index.bin"
    MatchIndex(SqlStore(db), cache_file=cache).refresh()
    base = cache.read_bytes()

    clock.advance(timedelta(hours=1))
    vdb.apply("osv:test", [_advisory("T-3", "pkg3", "7.0")])
    restarted = MatchIndex(SqlStore(db), cache_file=cache)
    restarted.refresh()
    assert restarted.loaded_from == "file+delta"
    once = cache.read_bytes()
    assert once.startswith(base) and len(once) > len(base)

    clock.advance(timedelta(hours=1))  # the running server's own refresh appends too
    vdb.apply("osv:test", [dataclasses.replace(INITIAL[1], withdrawn=T0)])  # T-1 on pkg1
    assert restarted.refresh() == 3 and restarted.loaded_from == "delta"
    twice = cache.read_bytes()
    assert twice.startswith(once) and len(twice) > len(once)

    reopened = MatchIndex(SqlStore(db), cache_file=cache)
    assert _matches(reopened) == _matches(MatchIndex(SqlStore(db))) == _matches(restarted)
    assert reopened.loaded_from == "file"
    assert reopened.entry_count() == len(INITIAL) - 1


def _damaged_segment(
    tmp_path: Path,
) -> tuple[Database, Path, list[tuple[str, str, str, str | None]]]:
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    vdb, clock = _vulndb(db)
    vdb.apply("osv:test", INITIAL)
    cache = tmp_path / "match-index.bin"
    MatchIndex(SqlStore(db), cache_file=cache).refresh()
    clock.advance(timedelta(hours=1))
    vdb.apply("osv:test", [_advisory("T-4", "pkg4", "8.0")])
    MatchIndex(SqlStore(db), cache_file=cache).refresh()
    return db, cache, _matches(MatchIndex(SqlStore(db)))


@pytest.mark.parametrize(
    "damage",
    [_corrupt_body, lambda data: data[:-3]],
    ids=["flipped-bit-in-the-delta", "delta-cut-short"],
)
def test_a_damaged_delta_segment_rebuilds_the_whole_index(tmp_path: Path, damage: object) -> None:
    db, cache, expected = _damaged_segment(tmp_path)
    assert callable(damage)
    cache.write_bytes(damage(cache.read_bytes()))
    rebuilt = MatchIndex(SqlStore(db), cache_file=cache)
    assert _matches(rebuilt) == expected and rebuilt.loaded_from == "database"
