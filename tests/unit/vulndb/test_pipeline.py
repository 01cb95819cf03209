"""Sources written while the last files are parsed store exactly what writing every source after
parsing stores; a source that grows after it was written, a source out of order, or a failed
write roll the early writes back, and an import that fails leaves no source half written."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql import vuln_repo
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb import parallel, pipeline
from dockwatch.vulndb.importer import ImportReport, import_paths
from dockwatch.vulndb.service import VulnDb


class _Frozen:
    """A clock that stays put: two imports stamp the same times."""

    def now(self) -> datetime:
        return datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


SourceWriter = pipeline.SourceWriter
VULNDATA = Path(__file__).resolve().parents[3].parent / "shared" / "vulndata"


def _record(rid: str, ecosystem: str, name: str, fixed: str) -> bytes:
    return orjson.dumps(
        {
            "id": rid,
            "modified": "2026-01-02T03:04:05Z",
            "summary": f"{name} before {fixed}",
            "affected": [
                {
                    "package": {"ecosystem": ecosystem, "name": name},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                    ],
                }
            ],
        }
    )


def _folder(root: Path, name: str, ecosystem: str, prefix: str, count: int) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    for n in range(count):
        rid = f"{prefix}-2026-{n:04}"
        folder.joinpath(f"{rid}.json").write_bytes(
            _record(rid, ecosystem, f"pkg-{n % 7}", f"1.{n}.0")
        )


class _Writers:
    """Every `SourceWriter` an import made, to see what it wrote early."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: list[SourceWriter] = []

        def make(*args: Any, **kwargs: Any) -> SourceWriter:
            writer = SourceWriter(*args, **kwargs)
            self.made.append(writer)
            return writer

        monkeypatch.setattr(pipeline, "SourceWriter", make)


@pytest.fixture
def early(monkeypatch: pytest.MonkeyPatch) -> _Writers:
    """Early writes after a few quiet files, looked for after every file."""
    monkeypatch.setattr(pipeline, "QUIET_FILES", 3)
    monkeypatch.setattr(pipeline, "_CHECK_EVERY", 1)
    monkeypatch.setattr(pipeline, "spare_core", lambda: True)  # whatever the machine's load
    return _Writers(monkeypatch)


def _database(folder: Path) -> tuple[Database, SqlStore]:
    folder.mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{folder / 'v.db'}")
    migrate(db)
    return db, SqlStore(db)


def _stored(db: Database, store: SqlStore) -> list[Any]:
    """Everything an import leaves: contents, affected entries, deltas, versions, bookkeeping
    and events (times come from one controlled clock)."""
    with store.read() as uow:
        out: list[Any] = list(uow.vulns.advisory_documents())
        out += sorted(uow.vulns.affected_documents())
        out += uow.vulns.changes_between(0, uow.vulns.current_version())
        out += [(s.name, s.records, s.last_change_at) for s in uow.vulns.sources()]
    with db.read() as conn:
        out += [tuple(r) for r in conn.execute(t.vuln_versions.select().order_by("version"))]
        out += [
            tuple(r)[1:]  # without the id
            for r in conn.exec_driver_sql("SELECT * FROM outbox ORDER BY id")
        ]
    return out


def _import(
    tree: Path, folder: Path, workers: int = 1
) -> tuple[ImportReport, list[Any]] | Exception:
    db, store = _database(folder)
    try:
        report = import_paths(VulnDb(store, _Frozen()), [tree], workers=workers)
    except Exception as exc:  # noqa: BLE001 - compared with the sequential import's
        return exc
    return report, _stored(db, store)


def _sequential(monkeypatch: pytest.MonkeyPatch, tree: Path, folder: Path) -> Any:
    """The import with every source written after parsing (the oracle)."""
    with monkeypatch.context() as m:
        m.setattr(pipeline, "HELD_FILES", -1)
        return _import(tree, folder)


def _same(one: Any, other: Any) -> None:
    if isinstance(one, Exception):
        assert type(other) is type(one) and str(other) == str(one)
        return
    (report_one, stored_one), (report_other, stored_other) = one, other
    assert stored_one == stored_other
    assert [(r.source, r.version, r.added, r.package_keys) for r in report_one.results] == [
        (r.source, r.version, r.added, r.package_keys) for r in report_other.results
    ]
    assert report_one.problems == report_other.problems


def test_sources_written_early_store_what_writing_after_parsing_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, early: _Writers
) -> None:
    tree = tmp_path / "tree"
    _folder(tree, "a", "Go", "GO", 12)
    _folder(tree, "b", "PyPI", "PYSEC", 12)
    _folder(tree, "c", "crates.io", "RUSTSEC", 12)
    got = _import(tree, tmp_path / "early")
    assert early.made[-1].committed_early == ["osv:Go", "osv:PyPI"]
    assert early.made[-1].rolled_back == 0
    want = _sequential(monkeypatch, tree, tmp_path / "sequential")
    assert early.made[-1].committed_early == []
    _same(got, want)
    assert not isinstance(want, Exception)
    assert [(r.source, r.version, len(r.added)) for r in want[0].results] == [
        ("osv:Go", 1, 12),
        ("osv:PyPI", 2, 12),
        ("osv:crates.io", 3, 12),
    ]


@pytest.mark.parametrize(
    ("late", "ecosystem", "prefix"),
    [
        ("z-go", "Go", "GO-LATE"),  # a written source grows
        ("z-alpine", "Alpine", "ALPINE"),  # a new source sorts before a written one
    ],
)
def test_a_source_out_of_order_rolls_the_early_writes_back(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    early: _Writers,
    late: str,
    ecosystem: str,
    prefix: str,
) -> None:
    tree = tmp_path / "tree"
    _folder(tree, "a", "Go", "GO", 10)
    _folder(tree, "b", "PyPI", "PYSEC", 10)
    _folder(tree, late, ecosystem, prefix, 2)
    got = _import(tree, tmp_path / "early")
    assert early.made[-1].rolled_back == 1 and early.made[-1].committed_early == []
    _same(got, _sequential(monkeypatch, tree, tmp_path / "sequential"))


@pytest.mark.parametrize("failing", ["osv:Go", "osv:PyPI", "osv:crates.io"])
def test_a_failed_write_leaves_what_writing_after_parsing_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, early: _Writers, failing: str
) -> None:
    """A write fails (every time, as a full disk would) for one source: the sources before it
    are stored, it and those after it are not, not even in part."""
    tree = tmp_path / "tree"
    _folder(tree, "a", "Go", "GO", 10)
    _folder(tree, "b", "PyPI", "PYSEC", 10)
    _folder(tree, "c", "crates.io", "RUSTSEC", 10)
    real = vuln_repo.SqlVulnRepo.record_changes

    def record_changes(self: Any, version: int, source: str, changes: Any) -> None:
        real(self, version, source, changes)  # advisories and deltas written, then it fails
        if source == failing:
            raise OSError(f"no space left writing {source}")

    monkeypatch.setattr(vuln_repo.SqlVulnRepo, "record_changes", record_changes)
    got = _import(tree, tmp_path / "early")
    want = _sequential(monkeypatch, tree, tmp_path / "sequential")
    assert isinstance(got, OSError)
    _same(got, want)
    db, store = _database(tmp_path / "early")
    with store.read() as uow:
        stored = {s.name for s in uow.vulns.sources()}
        counts = {
            source: uow.vulns.count_advisories(source)
            for source in ("osv:Go", "osv:PyPI", "osv:crates.io")
        }
    before = {s for s in counts if s < failing}
    assert stored == before
    assert counts == {s: 10 if s in before else 0 for s in counts}
    db, store = _database(tmp_path / "sequential")
    with store.read() as uow:
        assert {s.name for s in uow.vulns.sources()} == before


def test_parsing_that_fails_after_early_writes_leaves_no_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, early: _Writers
) -> None:
    tree = tmp_path / "tree"
    _folder(tree, "a", "Go", "GO", 10)
    _folder(tree, "b", "PyPI", "PYSEC", 10)
    real = parallel.parse_file
    seen = []

    def parse_file(path: str, *args: Any, **kwargs: Any) -> parallel.ParsedFile:
        seen.append(path)
        if len(seen) == 18:  # Go is written by now
            raise KeyboardInterrupt
        return real(path, *args, **kwargs)

    monkeypatch.setattr(parallel, "parse_file", parse_file)
    db, store = _database(tmp_path / "db")
    with pytest.raises(KeyboardInterrupt):
        import_paths(VulnDb(store, _Frozen()), [tree], workers=1)
    assert early.made[-1].committed_early == []
    with store.read() as uow:
        assert uow.vulns.count_advisories() == 0 and uow.vulns.sources() == []
        assert uow.vulns.current_version() == 0
    with store.write() as uow:  # and the write lock was given back
        uow.vulns.record_heartbeat("osv:Go", _Frozen().now())


def test_nothing_is_written_early_while_many_files_remain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, early: _Writers
) -> None:
    """The write lock is held from the first early write to the end of parsing: not before
    at most `HELD_FILES` files remain."""
    tree = tmp_path / "tree"
    _folder(tree, "a", "Go", "GO", 10)
    _folder(tree, "b", "PyPI", "PYSEC", 10)
    parsed_at_write: list[int] = []
    real = SourceWriter._write_early

    def write_early(self: SourceWriter, source: str) -> bool:
        parsed_at_write.append(self._files)
        return real(self, source)

    monkeypatch.setattr(SourceWriter, "_write_early", write_early)
    for held, first in ((9, 13), (4, 16), (0, 20)):  # Go is quiet after file 13 of 20
        parsed_at_write.clear()
        monkeypatch.setattr(pipeline, "HELD_FILES", held)
        _import(tree, tmp_path / f"held-{held}")
        assert parsed_at_write[:1] == [first]
        assert early.made[-1].committed_early == ["osv:Go"]


@pytest.mark.skipif(not VULNDATA.is_dir(), reason="../shared/vulndata is absent")
def test_real_records_written_early_by_a_pool_store_the_bytes_of_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, early: _Writers
) -> None:
    """A sample of every JSON folder of the shared snapshot: written early while a pool
    parses, and after parsing by one process, the same bytes, deltas and problems."""
    tree = tmp_path / "tree"
    for folder in sorted(p for p in VULNDATA.iterdir() if p.is_dir()):
        paths = sorted(folder.rglob("*.json"))
        for path in paths[:: max(1, len(paths) // 120)]:
            target = tree / path.relative_to(VULNDATA)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    monkeypatch.setattr(parallel, "CHUNK", 16)
    pooled = _import(tree, tmp_path / "pool", workers=2)
    assert len(early.made[-1].committed_early) >= 3
    _same(pooled, _sequential(monkeypatch, tree, tmp_path / "one"))


def test_nothing_is_written_early_without_a_spare_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, early: _Writers
) -> None:
    tree = tmp_path / "tree"
    _folder(tree, "a", "Go", "GO", 10)
    _folder(tree, "b", "PyPI", "PYSEC", 10)
    monkeypatch.setattr(pipeline, "spare_core", lambda: False)
    got = _import(tree, tmp_path / "busy")
    assert early.made[-1].committed_early == []
    _same(got, _sequential(monkeypatch, tree, tmp_path / "sequential"))


@pytest.mark.parametrize(
    ("load", "cores", "spare"),
    [(0.5, 2, True), (1.9, 2, True), (2.0, 2, False), (3.5, 4, True), (7.0, 4, False)],
)
def test_a_spare_core_is_a_load_under_the_cores(
    monkeypatch: pytest.MonkeyPatch, load: float, cores: int, spare: bool
) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert pipeline.spare_core() is spare
