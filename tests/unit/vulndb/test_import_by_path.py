"""An import writes each path's folders of records once that path is parsed, while the next is:
a source found under two paths gets a version for each, and the database ends as it would with
every file under one path. Lone record files come first, the other feeds next (while the pool
parses), then the folders path by path, in a pool or in one process alike."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from dockwatch.clock import ControlledClock
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb import importer, parallel
from dockwatch.vulndb.importer import ImportReport, import_paths
from dockwatch.vulndb.service import VulnDb
from tests.support.advisories import kev_catalogue, osv_record

KEV = kev_catalogue({"cveID": "CVE-2090-0001", "product": "alpha"})


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Path `a`: Go and PyPI records; path `b`: more PyPI records, a copy of one of `a`'s
    (dropped quietly) and another record under one of `a`'s ids (a problem); path `kev`: the
    KEV catalogue; `lone.json`: a record file given alone."""
    root = tmp_path_factory.mktemp("paths")
    a, b, kev = root / "a", root / "b", root / "kev"
    for folder in (a / "go", a / "pypi", b, kev):
        folder.mkdir(parents=True)
    for n in range(6):
        (a / "go" / f"GO-2026-{n}.json").write_bytes(
            osv_record(f"GO-2026-{n}", "Go", f"example.com/m{n}", f"1.{n}.0")
        )
    for n in range(4):
        (a / "pypi" / f"PYSEC-2026-{n}.json").write_bytes(
            osv_record(f"PYSEC-2026-{n}", "PyPI", f"pkg{n}", f"2.{n}")
        )
    for n in range(4, 9):
        (b / f"PYSEC-2026-{n}.json").write_bytes(
            osv_record(f"PYSEC-2026-{n}", "PyPI", f"pkg{n}", f"2.{n}")
        )
    (b / "zz-same.json").write_bytes((a / "pypi" / "PYSEC-2026-1.json").read_bytes())
    (b / "zz-other.json").write_bytes(osv_record("PYSEC-2026-2", "PyPI", "other", "9.9"))
    (kev / "known_exploited_vulnerabilities.json").write_text(json.dumps(KEV))
    (root / "lone.json").write_bytes(osv_record("PYSEC-2026-50", "PyPI", "lone", "1.0"))
    return {"a": a, "b": b, "kev": kev, "lone": root / "lone.json"}


def _import(paths: list[Path], folder: Path, workers: int) -> tuple[ImportReport, list[Any]]:
    db = Database(f"sqlite:///{folder / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    report = import_paths(VulnDb(store, ControlledClock()), paths, workers=workers)
    with store.read() as uow:
        stored: list[Any] = [(s, orjson.loads(d)) for s, d in uow.vulns.advisory_documents()]
        stored += sorted(uow.vulns.affected_documents())
    db.close()
    return report, stored


@pytest.mark.parametrize("workers", [1, 2])
def test_each_path_is_written_as_it_is_parsed(
    paths: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(parallel, "MIN_FILES", 1)  # a pool even for these few files
    monkeypatch.setattr(parallel, "CHUNK", 3)  # chunks that straddle the two paths
    given = [paths["a"], paths["kev"], paths["b"], paths["lone"]]
    report, stored = _import(given, tmp_path, workers)

    assert [(r.source, sorted(r.added)) for r in report.results] == [
        ("osv:PyPI", ["PYSEC-2026-50"]),  # the lone file, before any folder
        ("kev", ["CVE-2090-0001"]),  # the other feeds, while the folders are parsed
        ("osv:Go", [f"GO-2026-{n}" for n in range(6)]),  # path a, its sources in order
        ("osv:PyPI", [f"PYSEC-2026-{n}" for n in range(4)]),
        ("osv:PyPI", [f"PYSEC-2026-{n}" for n in range(4, 9)]),  # path b: its own version
    ]
    assert report.results[-1].unchanged == 0  # b's copy of a's record was dropped
    versions = [r.version or 0 for r in report.results]
    assert 0 not in versions and versions == sorted(set(versions))  # one each, in this order
    assert [(Path(p.where).name, p.reason) for p in report.problems] == [
        ("zz-other.json", "duplicate id PYSEC-2026-2; the first copy is kept")
    ]

    # the same files under one path: one version a source, and the same database
    (tmp_path / "one").mkdir()
    merged = tmp_path / "merged"
    shutil.copytree(paths["a"], merged / "a")
    shutil.copytree(paths["b"], merged / "b")
    together, stored_together = _import(
        [merged, paths["kev"], paths["lone"]], tmp_path / "one", workers
    )
    assert stored == stored_together
    assert [r.source for r in together.results] == ["osv:PyPI", "kev", "osv:Go", "osv:PyPI"]
    pypi = sorted(together.results[-1].added)
    assert pypi == sorted(f"PYSEC-2026-{n}" for n in range(9))


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_counts_the_records_of_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """A folder gives its records a file at a time: the count of records read goes on across
    files and feeds, as a terminal shows it while a large folder is parsed."""
    monkeypatch.setattr(importer, "PROGRESS_EVERY", 3)
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    folder = tmp_path / "records"
    folder.mkdir()
    for n in range(7):
        (folder / f"GO-2026-{n}.json").write_bytes(osv_record(f"GO-2026-{n}", "Go", f"m{n}", "1.0"))
    (folder / "zz-broken.json").write_bytes(b"{")  # a problem is not a record read
    kev = tmp_path / "kev"
    kev.mkdir()
    (kev / "known_exploited_vulnerabilities.json").write_text(
        json.dumps(kev_catalogue(*({"cveID": f"CVE-2090-000{n}"} for n in range(2))))
    )
    (tmp_path / "db").mkdir()
    db = Database(f"sqlite:///{tmp_path / 'db' / 'v.db'}")
    migrate(db)
    said: list[str] = []
    import_paths(
        VulnDb(SqlStore(db), ControlledClock()), [folder, kev], said.append, workers=workers
    )
    db.close()
    # the catalogue's 2 entries and the folder's 7 records, counted together
    assert [m for m in said if m.startswith("read ")] == [
        "read 3 records",
        "read 6 records",
        "read 9 records",
    ]


@pytest.mark.parametrize("workers", [1, 2])
def test_paths_without_records_before_the_folders_lose_nothing(
    paths: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """A path of another feed, or an empty folder, ends no records: the folders after it are
    written all the same, each when it is parsed."""
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "db").mkdir()
    report, _ = _import([paths["kev"], empty, paths["a"], empty], tmp_path / "db", workers)
    assert [(r.source, sorted(r.added)) for r in report.results] == [
        ("kev", ["CVE-2090-0001"]),
        ("osv:Go", [f"GO-2026-{n}" for n in range(6)]),
        ("osv:PyPI", [f"PYSEC-2026-{n}" for n in range(4)]),
    ]
