"""An import does not read again a record stored from the same bytes (`feeds/record_digest.py`):
what it stores and reports is what reading every record stores and reports, round after round,
in one process and in parsing processes, for `db import` and for `db sync`."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

import dockwatch
from dockwatch.clock import ControlledClock
from dockwatch.feeds import osv_typed, record_digest
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.feeds.osv_feed import OsvFeed
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.storage.sql.vuln_repo import SqlVulnRepo
from dockwatch.storage.vuln_repo import KnownRecord
from dockwatch.vulndb import parallel
from dockwatch.vulndb.importer import ImportReport, import_paths
from dockwatch.vulndb.runner import SyncOutcome, sync
from dockwatch.vulndb.service import RecordsChangedWhileRead, VulnDb
from tests.support.advisories import osv_record
from tests.unit.feeds.upstream import Resource, Upstream, serve

ECOSYSTEMS = ("PyPI", "npm", "Go")


def _vdb(path: Path) -> VulnDb:
    path.mkdir()
    db = Database(f"sqlite:///{path / 'v.db'}")
    migrate(db)
    return VulnDb(SqlStore(db), ControlledClock())


@contextmanager
def _nothing_known(monkeypatch: pytest.MonkeyPatch, really: bool) -> Iterator[None]:
    """With `really`, every record is read, as before read digests were kept: the oracle."""
    with monkeypatch.context() as m:
        if really:
            m.setattr(SqlVulnRepo, "known_records", lambda self, source=None: {})
        yield


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bytes of every record file read from now on (in this process)."""
    read: list[bytes] = []
    real = osv_typed.read_json

    def counted(data: bytes, source: str) -> Any:
        read.append(data)
        return real(data, source)

    monkeypatch.setattr(osv_typed, "read_json", counted)
    return read


def _stored(vdb: VulnDb) -> dict[str, list[tuple[Any, ...]]]:
    """Every advisory, affected entry, delta row and version (without the time it was made)."""
    db: Database = vdb.store.db  # type: ignore[attr-defined]
    out = {}
    with db.read() as conn:
        for table in (t.vuln_advisories, t.vuln_affected, t.vuln_changes, t.vuln_versions):
            columns = [c for c in table.c if c.name != "created_at"]
            rows = conn.execute(select(*columns)).all()
            out[table.name] = sorted(tuple(r) for r in rows)
    return out


def _report(report: ImportReport) -> list[Any]:
    results = [
        (r.source, r.version, r.added, r.modified, r.withdrawn, r.unchanged, r.package_keys)
        for r in report.results
    ]
    problems = [(p.feed, p.where, p.reason, p.record_id) for p in report.problems]
    return [results, problems]


def _write_round(folder: Path, n: int) -> set[str]:
    """The records of round `n` in `folder`; the names of the files whose bytes are new."""
    old = {p.name: p.read_bytes() for p in folder.glob("*.json")}
    records: dict[str, bytes] = {}
    for i in range(12):
        eco = ECOSYSTEMS[i % 3]
        records[f"GHSA-{i:02}.json"] = osv_record(f"GHSA-{i:02}", eco, f"p{i}", "2.0")
    # a record with a warning: its entry of an unknown ecosystem is skipped
    doc = orjson.loads(osv_record("GHSA-w", "PyPI", "pw", "1.0"))
    doc["affected"].append({"package": {"ecosystem": "Nowhere", "name": "x"}})
    records["GHSA-w.json"] = orjson.dumps(doc)
    if n >= 2:
        for i in (1, 5):  # changed
            records[f"GHSA-{i:02}.json"] = osv_record(f"GHSA-{i:02}", ECOSYSTEMS[i % 3], "p", "3.0")
        # the same record in other bytes: its content, and so its advisory, unchanged
        records["GHSA-07.json"] = orjson.dumps(
            orjson.loads(records["GHSA-07.json"]), option=orjson.OPT_INDENT_2
        )
        records["GHSA-20.json"] = osv_record("GHSA-20", "npm", "new", "1.0")  # added
        del records["GHSA-09.json"]  # gone from the folder (a folder is not a complete feed)
    for p in folder.glob("*.json"):
        p.unlink()
    for name, body in records.items():
        (folder / name).write_bytes(body)
    return {name for name, body in records.items() if old.get(name) != body}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_reimport_stores_and_reports_what_reading_every_record_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(parallel, "MIN_FILES", 1)  # parsing processes even for a few files
    monkeypatch.setattr(parallel, "CHUNK", 4)
    folder = tmp_path / "records"
    folder.mkdir()
    skipping, reading = _vdb(tmp_path / "skipping"), _vdb(tmp_path / "reading")
    for n in (1, 2, 3):
        _write_round(folder, min(n, 2))  # the third round finds the second's files again
        reports = []
        for vdb, oracle in ((skipping, False), (reading, True)):
            with _nothing_known(monkeypatch, oracle):
                reports.append(_report(import_paths(vdb, [folder], workers=workers)))
        assert reports[0] == reports[1]
        assert _stored(skipping) == _stored(reading)
    results, problems = reports[0]
    assert [(source, unchanged) for source, *_, unchanged, _ in results] == [
        ("osv:Go", 4),
        ("osv:PyPI", 4),
        ("osv:npm", 5),
    ]
    assert [reason for *_, reason, _ in problems] == [
        "affected[1]: unknown ecosystem 'Nowhere' (entry skipped)"
    ]  # reported by every import, the record read each time


def test_only_records_whose_bytes_changed_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = _count_reads(monkeypatch)
    folder = tmp_path / "records"
    folder.mkdir()
    vdb = _vdb(tmp_path / "db")
    first = _write_round(folder, 1)
    import_paths(vdb, [folder], workers=1)
    assert len(read) == len(first) == 13
    read.clear()
    changed = _write_round(folder, 2)
    report = import_paths(vdb, [folder], workers=1)
    with_warning = (folder / "GHSA-w.json").read_bytes()
    assert sorted(read) == sorted({(folder / n).read_bytes() for n in changed} | {with_warning})
    assert len(read) == 5  # 2 changed, 1 in other bytes, 1 added, the one with a warning
    # 8 known; the record in other bytes and the one with a warning read, and unchanged
    assert sum(r.unchanged for r in report.results) == 10
    read.clear()
    import_paths(vdb, [folder], workers=1)
    assert read == [with_warning]


@pytest.mark.parametrize(("workers", "threads"), [(1, False), (2, False), (2, True)])
def test_another_build_reads_every_record_once_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int, threads: bool
) -> None:
    """The digest covers the code that reads the records: a build that reads them differently
    reads each once, changes nothing stored but the digests, and knows them from then on. The
    parsing processes take the importing process's code identity (`record_digest.adopt`),
    those the fork server starts (beside a thread) included, which share none of its memory."""
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    monkeypatch.setattr(parallel, "CHUNK", 4)
    folder = tmp_path / "records"
    folder.mkdir()
    _write_round(folder, 1)
    vdb = _vdb(tmp_path / "db")
    import_paths(vdb, [folder], workers=workers)
    before = _stored(vdb)
    read = _count_reads(monkeypatch)
    this_build = record_digest.code_identity()
    record_digest.adopt(b"another build")
    stop = threading.Event()
    beside = threading.Thread(target=stop.wait)
    if threads:
        beside.start()
    try:
        report = import_paths(vdb, [folder], workers=workers)
        assert sum(r.unchanged for r in report.results) == 13
        assert not any(r.changed for r in report.results)
        after = _stored(vdb)
        assert {k: v for k, v in after.items() if k != "vuln_advisories"} == {
            k: v for k, v in before.items() if k != "vuln_advisories"
        }
        digest_at = [c.name for c in t.vuln_advisories.c if c.name != "created_at"].index(
            "read_digest"
        )
        strip = [r[:digest_at] + r[digest_at + 1 :] for r in before["vuln_advisories"]]
        assert [r[:digest_at] + r[digest_at + 1 :] for r in after["vuln_advisories"]] == strip
        # the digest as defined: the build's identity, the source read for, then the bytes
        clean = [p.read_bytes() for p in sorted(folder.glob("GHSA-[0-9]*.json"))]
        expected = {hashlib.sha256(b"another buildosv\0" + body).hexdigest() for body in clean}
        assert {r[digest_at] for r in after["vuln_advisories"]} - {None} == expected
        read.clear()
        again = import_paths(vdb, [folder], workers=workers)
        assert sum(r.unchanged for r in again.results) == 13
        assert _stored(vdb) == after
        if workers == 1:  # read in this process: counted
            assert read == [(folder / "GHSA-w.json").read_bytes()]
    finally:
        stop.set()
        if threads:
            beside.join()
        record_digest.adopt(this_build)


def test_the_code_identity_follows_every_python_file_of_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "dockwatch"
    (package / "feeds").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "feeds" / "osv.py").write_text("A = 1\n")
    (package / "notes.txt").write_text("not code")
    monkeypatch.setattr(dockwatch, "__file__", str(package / "__init__.py"))

    def identity() -> bytes:
        monkeypatch.setattr(record_digest, "_identity", None)  # as a new process finds it
        return record_digest.code_identity()

    first = identity()
    assert identity() == first
    (package / "notes.txt").write_text("other notes")
    assert identity() == first
    (package / "feeds" / "osv.py").write_text("A = 2\n")
    changed = identity()
    assert changed != first
    (package / "feeds" / "osv.py").rename(package / "osv.py")  # the same bytes, moved
    moved = identity()
    assert moved not in (first, changed)
    for p in package.rglob("*.py"):
        p.unlink()
    assert identity() not in (first, changed, moved)  # the installed version stands in


def test_a_record_written_meanwhile_fails_its_source_and_writes_nothing(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "records"
    folder.mkdir()
    _write_round(folder, 1)
    vdb = _vdb(tmp_path / "db")
    import_paths(vdb, [folder], workers=1)
    with vdb.store.read() as uow:
        known = uow.vulns.known_records("osv:PyPI")
    digest, (record_id, source) = sorted(known.items())[0]
    (folder / f"{record_id}.json").write_bytes(osv_record(record_id, "PyPI", "p", "9.9"))
    import_paths(vdb, [folder], workers=1)  # another import stores the record anew
    before = _stored(vdb)
    with pytest.raises(RecordsChangedWhileRead, match=f"{record_id}.*run the import again"):
        vdb.apply_rows(source, [KnownRecord(record_id, digest)])
    assert _stored(vdb) == before


# --- db sync ----------------------------------------------------------------------------------


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


def _archive(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return buf.getvalue()


def _outcomes(outcomes: list[SyncOutcome]) -> list[tuple[Any, ...]]:
    out = []
    for o in outcomes:
        r = o.result
        changes = None if r is None else (r.version, r.added, r.modified, r.withdrawn, r.unchanged)
        out.append((o.feed, o.status, o.problems, o.error, changes))
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_a_sync_stores_what_reading_every_member_does(
    upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """An archive read whole every day: members changed, rewritten in other bytes, added and
    gone (then withdrawn: the archive is the complete feed), the rest known. The parsing
    processes are forked by the fork server here (the test's server runs a thread), so the
    known digests travel to them pickled."""
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    monkeypatch.setattr(parallel, "CHUNK", 3)
    policy = DownloadPolicy(max_attempts=1, tmp_root=tmp_path)
    feeds = [OsvFeed(eco, url=upstream.url(f"/{eco}/all.zip"), policy=policy) for eco in ECOSYSTEMS]
    rounds = []
    for n in range(3):
        archives = {}
        for eco in ECOSYSTEMS:
            members = {
                f"{eco}-{i}.json": osv_record(f"GHSA-{eco[:2]}{i:02}", eco, f"p{i}", "2.0")
                for i in range(8)
            }
            if n >= 1:
                members[f"{eco}-2.json"] = osv_record(f"GHSA-{eco[:2]}02", eco, "p2", "2.5")
                members[f"{eco}-3.json"] = orjson.dumps(
                    orjson.loads(members[f"{eco}-3.json"]), option=orjson.OPT_INDENT_2
                )
                members[f"{eco}-9.json"] = osv_record(f"GHSA-{eco[:2]}09", eco, "p9", "1.0")
                del members[f"{eco}-4.json"]
            if n == 2:  # one member more changed (an archive unchanged is not read at all)
                members[f"{eco}-5.json"] = osv_record(f"GHSA-{eco[:2]}05", eco, "p5", "2.7")
            archives[eco] = _archive(members)
        rounds.append(archives)
    skipping, reading = _vdb(tmp_path / "skipping"), _vdb(tmp_path / "reading")
    read = _count_reads(monkeypatch)  # by this process (one parsing process: `workers` 1)
    for n, archives in enumerate(rounds):
        for eco, body in archives.items():  # a new ETag each round: each archive is fetched
            upstream.resources[f"/{eco}/all.zip"] = Resource(body, etag=f'"{n}"')
        got = []
        with httpx.Client(timeout=10) as http:
            for vdb, oracle in ((skipping, False), (reading, True)):
                read.clear()
                with _nothing_known(monkeypatch, oracle):
                    got.append(_outcomes(sync(vdb, feeds, http, workers=workers)))
                if workers == 1 and n == 2:
                    assert len(read) == (24 if oracle else 3)  # every member, or one a feed
        assert got[0] == got[1]
        assert _stored(skipping) == _stored(reading)
    changes = [o[4] for o in got[0]]  # the last round: every member but one known
    assert [(len(a), len(m), len(w), u) for _, a, m, w, u in changes] == [(0, 1, 0, 7)] * 3


def test_records_a_feed_stored_are_read_again_by_db_import(
    upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same bytes read for another source (a feed's records, here a mirror's, then `db
    import` grouping them by ecosystem) give other advisories: they are read, never taken for
    the feed's."""
    policy = DownloadPolicy(max_attempts=1, tmp_root=tmp_path)
    feed = OsvFeed("Mirror", url=upstream.url("/PyPI/all.zip"), policy=policy)
    members = {f"r{i}.json": osv_record(f"PYSEC-{i}", "PyPI", f"p{i}", "1.0") for i in range(4)}
    upstream.resources["/PyPI/all.zip"] = Resource(_archive(members), etag='"1"')
    folder = tmp_path / "records"
    folder.mkdir()
    for name, body in members.items():
        (folder / name).write_bytes(body)
    stored, reports = [], []
    for n, oracle in enumerate((False, True)):
        vdb = _vdb(tmp_path / f"db{n}")
        with _nothing_known(monkeypatch, oracle), httpx.Client(timeout=10) as http:
            assert [o.status for o in sync(vdb, [feed], http, workers=1)] == ["updated"]
            reports.append(_report(import_paths(vdb, [folder], workers=1)))
        stored.append(_stored(vdb))
    assert reports[0] == reports[1]
    assert stored[0] == stored[1]
    assert [(source, len(added)) for source, _, added, *_ in reports[0][0]] == [("osv:PyPI", 4)]


def test_a_feed_whose_records_an_import_wrote_meanwhile_fails_alone(
    upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`db import` grouping records under a feed's source (`osv:PyPI`) while the feed is
    synced: the feed fails with the reason, the feeds after it are synced, and the next sync
    reads the record again."""
    policy = DownloadPolicy(max_attempts=1, tmp_root=tmp_path)
    feeds = [OsvFeed(eco, url=upstream.url(f"/{eco}/all.zip"), policy=policy) for eco in ECOSYSTEMS]

    def publish(day: int, fixed: str) -> None:
        for eco in ECOSYSTEMS:
            members = {
                f"r{i}.json": osv_record(f"X-{eco}-{i}", eco, f"p{i}", "1.0") for i in range(3)
            }
            members["r0.json"] = osv_record(f"X-{eco}-0", eco, "p0", fixed)
            upstream.resources[f"/{eco}/all.zip"] = Resource(_archive(members), etag=f'"{day}"')

    vdb = _vdb(tmp_path / "db")
    publish(1, "1.0")
    with httpx.Client(timeout=10) as http:
        assert [o.status for o in sync(vdb, feeds, http, workers=1)] == ["updated"] * 3
        publish(2, "2.0")  # r0 changed; r1 and r2 known
        folder = tmp_path / "import"
        folder.mkdir()
        (folder / "r1.json").write_bytes(osv_record("X-PyPI-1", "PyPI", "p1", "5.0"))
        write = vdb.apply_rows

        def meanwhile(source: str, rows: Any, **kw: Any) -> Any:
            if source == "osv:PyPI" and not (folder / "done").exists():
                (folder / "done").touch()
                import_paths(vdb, [folder], workers=1)  # X-PyPI-1 stored from other bytes
            return write(source, rows, **kw)

        monkeypatch.setattr(vdb, "apply_rows", meanwhile)
        got = sync(vdb, feeds, http, workers=1)
        assert [(o.feed, o.status) for o in got] == [
            ("osv:PyPI", "failed"),
            ("osv:npm", "updated"),
            ("osv:Go", "updated"),
        ]
        assert "X-PyPI-1" in (got[0].error or "")
        with vdb.store.read() as uow:
            row = uow.vulns.source("osv:PyPI")
            assert row is not None and row.last_error is not None
            assert "run the import again" in row.last_error
        publish(3, "2.0")  # the same records, a new ETag
        again = sync(vdb, feeds, http, workers=1)
    assert [(o.feed, o.status) for o in again][0] == ("osv:PyPI", "updated")
    assert again[0].result is not None
    assert again[0].result.modified == ["X-PyPI-0", "X-PyPI-1"]  # back from the import's copy
