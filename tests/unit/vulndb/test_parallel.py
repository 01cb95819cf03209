"""Folders of OSV records parsed by a pool of processes import exactly what one process
imports: the same advisories, deltas and problems, repeated ids dropped the same way."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from dockwatch.clock import ControlledClock
from dockwatch.feeds import osv, osv_typed
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.storage.vuln_repo import EncodedAdvisory
from dockwatch.vulndb import parallel
from dockwatch.vulndb.importer import ImportReport, import_paths
from dockwatch.vulndb.service import VulnDb
from tests.support.advisories import osv_record
from tests.support.processes import live_descendants


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two folders of records with what an import must sort out: a record repeated with the
    same bytes (dropped quietly) and with other bytes (a problem), a malformed file, an entry
    in an unknown ecosystem (a problem, the rest kept), a withdrawn record."""
    root = tmp_path_factory.mktemp("osv")
    go, py = root / "go", root / "pypi"
    go.mkdir()
    py.mkdir()
    for n in range(12):
        (go / f"GO-2026-{n:04}.json").write_bytes(
            osv_record(f"GO-2026-{n:04}", "Go", f"example.com/m{n % 4}", f"1.{n}.0")
        )
        (py / f"PYSEC-2026-{n}.json").write_bytes(
            osv_record(f"PYSEC-2026-{n}", "PyPI", f"Pkg_{n % 5}", f"2.{n}")
        )
    (py / "PYSEC-2026-50.json").write_bytes(
        osv_record("PYSEC-2026-50", "PyPI", "gone", "1.0", withdrawn="2026-02-01T00:00:00Z")
    )
    (py / "PYSEC-2026-60.json").write_bytes(
        orjson.dumps(
            {
                "id": "PYSEC-2026-60",
                "modified": "2026-01-02T03:04:05Z",
                "affected": [
                    {"package": {"ecosystem": "Nowhere", "name": "x"}},
                    {"package": {"ecosystem": "PyPI", "name": "kept"}, "versions": ["1.0"]},
                ],
            }
        )
    )
    (py / "zz-broken.json").write_bytes(b'{"id": "PYSEC-2026-99", "affected": [')
    (py / "zz-same.json").write_bytes((go / "GO-2026-0003.json").read_bytes())
    (py / "zz-other.json").write_bytes(osv_record("GO-2026-0004", "Go", "example.com/x", "9.9.9"))
    return root


def _import(tree: Path, folder: Path, workers: int) -> tuple[ImportReport, list[Any]]:
    db = Database(f"sqlite:///{folder / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    report = import_paths(VulnDb(store, ControlledClock()), [tree], workers=workers)
    with store.read() as uow:
        stored = [
            (source, orjson.loads(doc)) for source, doc in uow.vulns.advisory_documents()
        ] + sorted(
            (eco, name, source, aid, orjson.loads(entry))
            for eco, name, source, aid, entry in uow.vulns.affected_documents()
        )
        deltas = uow.vulns.changes_between(0, uow.vulns.current_version())
    return report, stored + deltas


def test_a_pool_imports_what_one_process_imports(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "MIN_FILES", 1)  # a pool even for this small tree
    monkeypatch.setattr(parallel, "CHUNK", 4)  # and results coming back in many pieces
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one, stored_one = _import(tree, tmp_path / "one", workers=1)
    two, stored_two = _import(tree, tmp_path / "two", workers=2)

    assert stored_two == stored_one
    assert [(r.source, r.added, r.withdrawn, r.package_keys) for r in two.results] == [
        (r.source, r.added, r.withdrawn, r.package_keys) for r in one.results
    ]
    assert two.problems == one.problems and two.skipped_files == one.skipped_files

    # what one process does, said independently of the code under test
    added = {r.source: len(r.added) for r in one.results}
    assert added == {"osv:Go": 12, "osv:PyPI": 14}  # 12 + the withdrawn + PYSEC-2026-60
    reasons = sorted((Path(p.where).name, p.reason.split(":")[0]) for p in one.problems)
    assert reasons == [
        ("PYSEC-2026-60.json", "affected[0]"),
        ("zz-broken.json", "cannot decode"),
        ("zz-other.json", "duplicate id GO-2026-0004; the first copy is kept"),
    ]
    go_0004 = [doc for source, doc in stored_one[:26] if doc["id"] == "GO-2026-0004"]
    assert go_0004[0]["affected"][0]["name"] == "example.com/m0"  # the first copy is kept


def test_a_pool_hands_back_what_one_process_parses(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The processes send plain tuples back; what the importer gets from them is equal, field
    by field (the modification times included), to what it parses itself."""
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    monkeypatch.setattr(parallel, "CHUNK", 3)
    files = sorted(tree.rglob("*.json"))
    one = list(parallel.parse_units(files, osv.Limits(), workers=1))
    two = list(parallel.parse_units(files, osv.Limits(), workers=2))
    assert two == one
    modified = [
        i.advisory.modified
        for f in two
        for i in f.items
        if isinstance(i, parallel.Parsed) and isinstance(i.advisory, EncodedAdvisory)
    ]
    assert datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC) in modified
    assert all(m is None or m.utcoffset() == timedelta(0) for m in modified)


def test_records_read_straight_into_their_stored_form_store_what_the_model_path_stores(
    tree: Path, tmp_path: Path
) -> None:
    """A folder and the same files in a zip: the database ends up the same (what the model
    reads from an archive is in `test_osv_archives.py`)."""
    archive = tmp_path / "tree.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(tree.rglob("*.json")):
            zf.write(path, path.relative_to(tree).as_posix())
    (tmp_path / "folder").mkdir()
    (tmp_path / "zip").mkdir()
    folder, stored_folder = _import(tree, tmp_path / "folder", workers=1)
    zipped, stored_zip = _import(archive, tmp_path / "zip", workers=1)
    assert stored_folder == stored_zip
    assert [(r.source, r.added, r.withdrawn) for r in folder.results] == [
        (r.source, r.added, r.withdrawn) for r in zipped.results
    ]
    assert [p.reason for p in folder.problems] == [p.reason for p in zipped.problems]


_KILLED_IMPORT = """
import sys, threading, time
from pathlib import Path
from dockwatch.feeds import osv, osv_typed
from dockwatch.vulndb import parallel
if __name__ == "__main__":
    if sys.argv[2] == "threads":  # the workers are then forked by the fork server
        threading.Thread(target=time.sleep, args=(120,), daemon=True).start()
    files = sorted(Path(sys.argv[1]).iterdir())
    for _ in parallel.parse_units(files, osv.Limits(), workers=2):
        print("parsing", flush=True)
        time.sleep(60)  # killed here, its pool alive
"""


@pytest.mark.parametrize("threads", ["", "threads"])
def test_parsing_processes_end_with_a_killed_import(tmp_path: Path, threads: str) -> None:
    """SIGKILL leaves an import no chance to stop its pool: the pool's processes (and a fork
    server) must end on their own instead of waiting forever for work."""
    import os
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "records"
    folder.mkdir()
    for i in range(parallel.MIN_FILES):
        (folder / f"GO-{i}.json").write_bytes(osv_record(f"GO-{i}", "Go", f"m{i}", "1.0"))
    # the last file never opens (a FIFO nobody writes to): its worker is alive when killed,
    # however fast the others went
    os.mkfifo(folder / "GO-zzzz.json")
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_IMPORT, str(folder), threads],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "TMPDIR": str(tmp_path)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"parsing\n"

    pool = live_descendants(proc.pid)
    assert pool, "the pool's processes are running"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    left = pool
    while left and time.monotonic() < deadline:
        left = [p for p in pool if Path(f"/proc/{p}").exists() and
                (Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z")]  # fmt: skip
        time.sleep(0.05)
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert left == []


VULNDATA = Path(__file__).resolve().parents[3].parent / "shared" / "vulndata"


def _stored_bytes(folder: Path, tree: Path, workers: int) -> tuple[ImportReport, list[Any]]:
    """An import's stored bytes: every content and affected entry as written, every delta."""
    db = Database(f"sqlite:///{folder / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    report = import_paths(VulnDb(store, ControlledClock()), [tree], workers=workers)
    with store.read() as uow:
        stored: list[Any] = list(uow.vulns.advisory_documents())
        stored += sorted(uow.vulns.affected_documents())
        stored += uow.vulns.changes_between(0, uow.vulns.current_version())
    return report, stored


@pytest.mark.skipif(not VULNDATA.is_dir(), reason="../shared/vulndata is absent")
def test_real_records_decoded_typed_store_the_bytes_the_general_reading_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sample of every JSON folder of the shared snapshot, imported with the typed decoding
    (`feeds.osv_typed`) by one process and by a pool, and with every file read the general way
    (orjson, then `osv_content`): the same bytes stored, the same deltas and problems."""
    tree = tmp_path / "tree"
    for folder in sorted(p for p in VULNDATA.iterdir() if p.is_dir()):
        paths = sorted(folder.rglob("*.json"))
        for path in paths[:: max(1, len(paths) // 150)]:
            target = tree / path.relative_to(VULNDATA)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    read = [osv_typed.read_json(p.read_bytes(), "osv") for p in sorted(tree.rglob("*.json"))]
    assert sum(r is not None for r in read) > 500  # the records are read typed
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    for name in ("typed", "pool", "general"):
        (tmp_path / name).mkdir()
    typed, stored_typed = _stored_bytes(tmp_path / "typed", tree, workers=1)
    pool, stored_pool = _stored_bytes(tmp_path / "pool", tree, workers=2)
    monkeypatch.setattr(osv_typed, "read_json", lambda data, source: None)
    general, stored_general = _stored_bytes(tmp_path / "general", tree, workers=1)

    assert len(stored_general) > 1000
    assert stored_typed == stored_general
    assert stored_pool == stored_general
    for report in (typed, pool):
        assert [(r.source, r.added, r.unchanged) for r in report.results] == [
            (r.source, r.added, r.unchanged) for r in general.results
        ]
        assert report.problems == general.problems


def test_a_pool_hands_back_contents_the_driver_binds_without_adapting(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Contents and entries come back from the processes as `bytearray` (bound by `sqlite3`
    without its adapter lookup), with the bytes one process makes."""
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    monkeypatch.setattr(parallel, "CHUNK", 5)
    files = sorted(tree.rglob("*.json"))

    def advisories(workers: int) -> list[Any]:
        return [
            i.advisory
            for f in parallel.parse_units(files, osv.Limits(), workers=workers)
            for i in f.items
            if isinstance(i, parallel.Parsed) and i.advisory is not None
        ]

    one, two = advisories(1), advisories(2)
    assert len(two) == len(one) == 12 + 12 + 2 + 2  # the folders, 50 and 60, zz-same, zz-other
    for mine, theirs in zip(one, two, strict=True):
        assert type(mine.content) is bytes and type(theirs.content) is bytearray
        assert bytes(theirs.content) == mine.content
        assert [(e, n, bytes(b)) for e, n, b in theirs.affected] == list(mine.affected)
        assert all(type(b) is bytearray for _, _, b in theirs.affected)
