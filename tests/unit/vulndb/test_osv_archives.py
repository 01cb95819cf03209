"""OSV archives (osv.dev's `all.zip`) are parsed member by member by the parsing processes, in
`db import` and in `db sync`. What they store must be what the model reads from the same
archives (`osv.iter_zip` into `Advisory`, stored as `VulnDb.apply` stores it): the same
records and fingerprints, the same problems, the same caps."""

from __future__ import annotations

import dataclasses
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from dockwatch.clock import ControlledClock
from dockwatch.feeds import osv, suse, ubuntu
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.feeds.feed import ParseProblem
from dockwatch.feeds.osv_feed import OsvFeed
from dockwatch.feeds.suse import SuseFeed
from dockwatch.feeds.ubuntu import UbuntuFeed
from dockwatch.model.advisory import Advisory
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.storage.vuln_repo import EncodedAdvisory
from dockwatch.vulndb import archive_members, parallel
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.runner import sync
from dockwatch.vulndb.service import VulnDb, encode_advisory
from tests.builders.zips import UNREADABLE_MEMBERS, unreadable_member
from tests.support.advisories import osv_record
from tests.unit.feeds.upstream import Resource, Upstream, serve

Members = list[tuple[str, bytes]]


def _zip(path: Path, members: Members, *, stored: bool = False) -> Path:
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", method) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a name repeated on purpose
        for name, data in members:
            if name.endswith("/"):
                zf.mkdir(name.rstrip("/"))
            else:
                zf.writestr(name, data)
    return path


def _records() -> Members:
    """Records with what a reading must sort out: a repeat with the same bytes (dropped
    quietly) and with other bytes (a problem), a malformed record, an entry in an unknown
    ecosystem (a problem, the rest kept), a withdrawn record, files that are not records."""
    members = [
        (f"GO-2026-{n:04}.json", osv_record(f"GO-2026-{n:04}", "Go", f"example.com/m{n}", "1.0"))
        for n in range(12)
    ]
    members += [
        (f"PYSEC-2026-{n}.json", osv_record(f"PYSEC-2026-{n}", "PyPI", f"Pkg_{n % 5}", f"2.{n}"))
        for n in range(12)
    ]
    unknown = {  # with severities, which name the source that read them
        "id": "PYSEC-2026-60",
        "modified": "2026-01-02T03:04:05Z",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "database_specific": {"severity": "HIGH"},
        "affected": [
            {"package": {"ecosystem": "Nowhere", "name": "x"}},
            {"package": {"ecosystem": "PyPI", "name": "kept"}, "versions": ["1.0"]},
        ],
    }
    gone = osv_record("PYSEC-2026-50", "PyPI", "gone", "1.0", withdrawn="2026-02-01T00:00:00Z")
    members += [
        ("PYSEC-2026-50.json", gone),
        ("PYSEC-2026-60.json", orjson.dumps(unknown)),
        ("zz-broken.json", b'{"id": "PYSEC-2026-99", "affected": ['),
        ("zz-same.json", members[3][1]),  # GO-2026-0003 again, the same bytes
        ("zz-other.json", osv_record("GO-2026-0004", "Go", "example.com/x", "9.9.9")),
        ("GO-2026-0001.json", osv_record("GO-2026-0001", "Go", "example.com/y", "8.0")),
        ("README.md", b"# not a record"),
        (".hidden.json", osv_record("GO-2026-0777", "Go", "hidden", "1.0")),
        ("__MACOSX/GO-2026-0778.json", osv_record("GO-2026-0778", "Go", "mac", "1.0")),
        ("docs/", b""),
    ]
    return members


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two archives: the records above (with a member whose bytes were damaged after it was
    written: its CRC no longer holds), then a second ecosystem, one record of which repeats an
    id of the first archive with other bytes."""
    root = tmp_path_factory.mktemp("archives")
    damaged = osv_record("GO-2026-0555", "Go", "example.com/damaged", "1.0")
    first = _zip(root / "a.zip", [*_records(), ("GO-2026-0555.json", damaged)], stored=True)
    raw = first.read_bytes()
    assert raw.count(b"example.com/damaged") >= 1  # in the member only: stored, not packed
    first.write_bytes(raw.replace(b"example.com/damaged", b"example.com/damagee"))
    crates = [
        (f"RUSTSEC-2026-{n:04}.json", osv_record(f"RUSTSEC-2026-{n:04}", "crates.io", f"c{n}", "1"))
        for n in range(6)
    ]
    crates.append(("again.json", osv_record("PYSEC-2026-3", "PyPI", "other", "7.0")))
    return [first, _zip(root / "b.zip", crates)]


SOURCE_OF_PREFIX = {"GO": "osv:Go", "PYSEC": "osv:PyPI", "RUSTSEC": "osv:crates.io"}


def _model(paths: list[Path], source: str, limits: osv.Limits) -> Iterator[Any]:
    """What the model reads: (id, fingerprint, withdrawn) of each record, as `VulnDb.apply`
    encodes it, and (where, reason) of each problem, in order."""
    seen: osv.Seen = {}
    for path in paths:
        for item in osv.iter_zip(path, source, limits, seen):
            if isinstance(item, ParseProblem):
                yield (item.where, item.reason)
            else:
                assert isinstance(item, Advisory)
                encoded = encode_advisory(item)
                yield (encoded.id, encoded.fingerprint, encoded.withdrawn)


def _store(path: Path) -> SqlStore:
    db = Database(f"sqlite:///{path}")
    migrate(db)
    return SqlStore(db)


@pytest.mark.parametrize("workers", [1, 2])
def test_an_archive_imports_what_the_model_reads_from_it(
    archives: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(parallel, "MIN_FILES", 1)  # a pool even for these small archives
    monkeypatch.setattr(parallel, "CHUNK", 3)
    store = _store(tmp_path / "v.db")
    report = import_paths(VulnDb(store, ControlledClock()), archives, workers=workers)

    model = list(_model(archives, "osv", osv.Limits()))
    expected: dict[str, dict[str, tuple[str, bool]]] = {}
    for item in model:
        if len(item) == 3:  # each fixture's ids name the ecosystem its records affect
            source = SOURCE_OF_PREFIX[item[0].split("-")[0]]
            expected.setdefault(source, {})[item[0]] = (item[1], item[2])
    with store.read() as uow:
        stored = {source: uow.vulns.stored_fingerprints(source) for source in expected}
    assert stored == expected
    assert [(p.where, p.reason) for p in report.problems] == [i for i in model if len(i) == 2]

    # said independently of the code under test
    assert {s: len(ids) for s, ids in stored.items()} == {
        "osv:Go": 12,
        "osv:PyPI": 14,  # 12, the withdrawn one and PYSEC-2026-60
        "osv:crates.io": 6,
    }
    assert stored["osv:PyPI"]["PYSEC-2026-50"][1] is True
    reasons = [(Path(p.where.split("!")[1]).name, p.reason.split(":")[0]) for p in report.problems]
    assert reasons == [
        ("PYSEC-2026-60.json", "affected[0]"),
        ("zz-broken.json", "cannot decode"),
        ("zz-other.json", "duplicate id GO-2026-0004; the first copy is kept"),
        ("GO-2026-0001.json", "duplicate id GO-2026-0001; the first copy is kept"),
        ("GO-2026-0555.json", "cannot read member"),
        ("again.json", "duplicate id PYSEC-2026-3; the first copy is kept"),
    ]


def _flattened(units: list[parallel.Unit], limits: osv.Limits, workers: int) -> list[Any]:
    out: list[Any] = []
    seen: osv.Seen = {}
    for parsed in parallel.parse_units(units, limits, workers):
        for item in parallel.first_copies(parsed, seen):
            if isinstance(item, ParseProblem):
                out.append((item.where, item.reason))
            elif isinstance(item.advisory, EncodedAdvisory):
                a = item.advisory
                out.append((a.id, a.fingerprint, a.withdrawn))
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_members_beyond_the_caps_give_what_the_model_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """A member over the record cap is a problem; an archive whose members expand beyond the
    archive cap gives its problem where the cap is crossed and nothing after, and the archive
    after it is read whole (by processes started again)."""
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    monkeypatch.setattr(parallel, "CHUNK", 2)
    records = [osv_record(f"GO-2026-{n:04}", "Go", f"example.com/m{n}", "1.0") for n in range(10)]
    size = len(records[0])
    assert all(abs(len(r) - size) < 8 for r in records)
    big = osv_record("GO-2026-0999", "Go", "example.com/" + "b" * 3 * size, "1.0")
    over = _zip(
        tmp_path / "over.zip",
        [(f"r{n}.json", r) for n, r in enumerate(records[:4])]
        + [("big.json", big)]
        + [(f"r{n}.json", r) for n, r in enumerate(records[4:], 4)],
    )
    after = _zip(
        tmp_path / "after.zip",
        [(f"p{n}.json", osv_record(f"PYSEC-2026-{n}", "PyPI", f"p{n}", "1")) for n in range(5)],
    )
    # records up to 2x the size; the archive cap crossed by its seventh record
    limits = osv.Limits(max_record_bytes=2 * size, max_archive_bytes=int(6.5 * size))
    units: list[parallel.Unit] = []
    for path in (over, after):
        listed = archive_members.members(str(path), "osv")
        assert not isinstance(listed, ParseProblem)
        units += listed

    model = list(_model([over, after], "osv", limits))
    assert _flattened(units, limits, workers) == model

    # said independently of the code under test
    ids = [item[0] for item in model if len(item) == 3]
    assert ids == [f"GO-2026-{n:04}" for n in range(6)] + [f"PYSEC-2026-{n}" for n in range(5)]
    problems = [item for item in model if len(item) == 2]
    assert [reason.split(" of ")[0] for _, reason in problems] == [
        "member",  # big.json: member of N bytes is too large
        osv.OVER_ARCHIVE_CAP,
    ]
    assert problems[1][0] == str(over)


@pytest.mark.parametrize("workers", [1, 2])
def test_members_zipfile_cannot_read_are_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """An encrypted member and one packed by an unknown method: a problem each, the other
    records imported (`zipfile` raised RuntimeError for them, which stopped the import)."""
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    members = [(f"{n}.json", osv_record(f"GO-2026-{n:04}", "Go", f"m{n}", "1")) for n in range(4)]
    archive = _zip(tmp_path / "a.zip", members).read_bytes()
    for index, how in zip((1, 2), UNREADABLE_MEMBERS, strict=True):
        archive = unreadable_member(archive, index, how)
    path = tmp_path / "damaged.zip"
    path.write_bytes(archive)
    store = _store(tmp_path / "v.db")
    report = import_paths(VulnDb(store, ControlledClock()), [path], workers=workers)

    model = list(_model([path], "osv", osv.Limits()))
    assert [(p.where, p.reason) for p in report.problems] == [i for i in model if len(i) == 2]
    with store.read() as uow:
        stored = uow.vulns.stored_fingerprints("osv:Go")
    assert stored == {i[0]: (i[1], i[2]) for i in model if len(i) == 3}
    assert sorted(stored) == ["GO-2026-0000", "GO-2026-0003"]
    assert [(p.where.split("!")[1], p.reason.split(":")[0]) for p in report.problems] == [
        ("1.json", "cannot read member"),
        ("2.json", "cannot read member"),
    ]


def test_an_archive_that_cannot_be_read_is_a_problem(tmp_path: Path) -> None:
    """(`db import` sets such a file aside before, as a file it does not recognise.)"""
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    listed = archive_members.members(str(broken), "osv:Go")
    assert isinstance(listed, ParseProblem)
    assert (listed.feed, listed.where) == ("osv:Go", str(broken))
    assert listed.reason.startswith("not a readable zip")


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_synced_osv_feed_stores_what_the_model_reads_from_its_archive(
    upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """`db sync` of an ecosystem's all.zip: every record under the feed's name, as the model
    reads it for that feed; a second archive without some records withdraws them."""
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    monkeypatch.setattr(parallel, "CHUNK", 4)
    first = _zip(tmp_path / "1.zip", _records())
    upstream.resources["/PyPI/all.zip"] = Resource(first.read_bytes(), etag='"1"')
    feed = OsvFeed("PyPI", url=upstream.url("/PyPI/all.zip"), policy=DownloadPolicy(max_attempts=1))
    store = _store(tmp_path / "v.db")
    vdb = VulnDb(store, ControlledClock())
    with httpx.Client(timeout=10) as http:
        (outcome,) = sync(vdb, [feed], http, workers=workers)
    model = list(_model([first], feed.name, osv.Limits()))
    with store.read() as uow:
        stored = uow.vulns.stored_fingerprints(feed.name)
    assert outcome.status == "updated" and outcome.error is None
    assert stored == {i[0]: (i[1], i[2]) for i in model if len(i) == 3}
    assert outcome.problems == sum(len(i) == 2 for i in model) == 4
    assert len(stored) == 12 + 12 + 2

    kept = [m for m in _records() if not m[0].startswith("GO-")]
    second = _zip(tmp_path / "2.zip", kept)
    upstream.resources["/PyPI/all.zip"] = Resource(second.read_bytes(), etag='"2"')
    with httpx.Client(timeout=10) as http:
        (outcome,) = sync(vdb, [feed], http, workers=workers)
    assert outcome.result is not None
    # GO-2026-0003 and -0004 are read again from zz-same.json and zz-other.json
    assert sorted(outcome.result.withdrawn) == sorted(
        f"GO-2026-{n:04}" for n in range(12) if n not in (3, 4)
    )


FEED_DATA = Path(__file__).resolve().parents[2] / "data" / "feeds"


@pytest.mark.parametrize(
    ("feed", "normalized"),
    [(UbuntuFeed(), ubuntu.parse), (SuseFeed(), suse.parse)],
    ids=["ubuntu", "suse"],
)
def test_a_synced_distribution_feed_stores_what_its_feed_reads(
    upstream: Upstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    feed: OsvFeed,
    normalized: Callable[[Iterator[Any]], Iterator[Any]],
) -> None:
    """Ubuntu's and SUSE's archives (real records, `tests/data/feeds`): read in the parsing
    processes, normalized as their feeds normalize them (Ubuntu's notices dropped, SUSE's
    products folded per release)."""
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    folder = FEED_DATA / feed.ecosystem.lower() / "osv"
    records = [
        (p.relative_to(folder).as_posix(), p.read_bytes()) for p in sorted(folder.rglob("*.json"))
    ]
    archive = _zip(tmp_path / "all.zip", records)
    upstream.resources["/all.zip"] = Resource(archive.read_bytes(), etag='"1"')
    feed = dataclasses.replace(
        feed, url=upstream.url("/all.zip"), policy=DownloadPolicy(max_attempts=1)
    )
    store = _store(tmp_path / "v.db")
    with httpx.Client(timeout=10) as http:
        (outcome,) = sync(VulnDb(store, ControlledClock()), [feed], http, workers=2)

    read = list(normalized(osv.iter_zip(archive, feed.name, feed.limits, {})))
    expected = {
        e.id: (e.fingerprint, e.withdrawn)
        for e in (encode_advisory(a) for a in read if isinstance(a, Advisory))
    }
    with store.read() as uow:
        stored = uow.vulns.stored_fingerprints(feed.name)
    assert outcome.status == "updated"
    assert stored == expected
    assert outcome.problems == sum(isinstance(i, ParseProblem) for i in read)
    assert len(stored) >= 2
    if feed.name == ubuntu.SOURCE:  # the notice is not stored
        assert not any(aid.startswith("USN-") for aid in stored)
