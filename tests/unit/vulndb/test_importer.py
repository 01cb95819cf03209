"""`dockwatch db import` of a folder of SUSE's OSV records, as an air-gapped site would."""

from __future__ import annotations

import shutil
from pathlib import Path

from dockwatch.clock import ControlledClock
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.importer import ImportReport, _files, import_paths
from dockwatch.vulndb.service import VulnDb

SUSE = Path(__file__).parents[2] / "data" / "feeds" / "suse" / "osv"


def test_suse_folder_imports_folded_per_release(tmp_path: Path) -> None:
    folder = tmp_path / "osv"
    shutil.copytree(SUSE, folder)
    (folder / "LICENSE.txt").write_text("CC-BY-4.0\n")
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    report = import_paths(VulnDb(store, ControlledClock()), [folder])
    assert report.problems == []
    with store.read() as uow:
        keys = {
            (row.source, row.advisory_id, row.ecosystem, row.name)
            for row in uow.vulns.affected_for(
                [
                    ("SUSE:Linux Enterprise 12 SP5", "libopenssl0_9_8"),
                    ("openSUSE:Leap 15.0", "nscd"),
                ]
            )
        }
    assert keys == {
        ("osv:SUSE", "SUSE-SU-2019:1608-1", "SUSE:Linux Enterprise 12 SP5", "libopenssl0_9_8"),
        ("osv:openSUSE", "openSUSE-SU-2018:1633-1", "openSUSE:Leap 15.0", "nscd"),
    }


FEDORA = Path(__file__).parents[2] / "data" / "feeds" / "fedora"


def test_saved_bodhi_pages_import(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    report = import_paths(VulnDb(store, ControlledClock()), [FEDORA])
    assert report.problems == [] and report.skipped_files == [str(FEDORA / "README.md")]
    with store.read() as uow:
        rows = uow.vulns.affected_for([("Fedora:37", "httpd"), ("Fedora:36", "httpd")])
        keys = {(row.source, row.advisory_id, row.ecosystem) for row in rows}
    assert keys == {
        ("fedora", "FEDORA-2023-f6ff3f85eb", "Fedora:37"),
        ("fedora", "FEDORA-2023-6d4055d482", "Fedora:36"),
    }


def test_a_folder_of_records_hands_its_records_to_the_parser_and_sorts_out_the_rest(
    tmp_path: Path,
) -> None:
    """Records are listed a folder at a time; what is not a record file (a README, hidden
    files, a nested folder of another format) is sniffed or skipped as one file at a time."""

    record = b'{"id": "GO-2026-%d", "modified": "2026-01-01T00:00:00Z", "affected": []}'
    osv = tmp_path / "osv"
    (osv / "sub").mkdir(parents=True)
    for name in ["b.json", "a.json", "c.yaml", "d.JSON"]:
        (osv / name).write_bytes(record % len(name))
    (osv / "README.md").write_text("records")
    (osv / ".hidden.json").write_bytes(record % 9)
    (osv / "sub" / "z.json").write_bytes(record % 7)
    (osv / ".git").mkdir()
    (osv / ".git" / "x.json").write_bytes(record % 8)
    report = ImportReport()
    records: list[str] = []
    kinds = list(_files([tmp_path], report, records))
    folder = str(osv)
    assert records == [
        f"{folder}/a.json",
        f"{folder}/b.json",
        f"{folder}/c.yaml",
        f"{folder}/d.JSON",
        f"{folder}/sub/z.json",
    ]
    assert kinds == [] and report.skipped_files == [f"{folder}/README.md"]
