"""Migration vulns/3 on both backends: a database made before read digests were kept gets the
column, keeps its advisories, and its next import of the same records records their digests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, inspect, select, text

from dockwatch.clock import ControlledClock
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.support.advisories import osv_record

from .conftest import BACKENDS, empty_database_url


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_made_before_read_digests_gets_them(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    folder = tmp_path / "records"
    folder.mkdir()
    for i in range(3):
        (folder / f"GHSA-{i}.json").write_bytes(osv_record(f"GHSA-{i}", "PyPI", f"p{i}", "2.0"))
    db = Database(empty_database_url(backend, request, tmp_path))
    try:
        migrate(db)
        with db.write() as conn:
            conn.execute(text("ALTER TABLE vuln_advisories DROP COLUMN read_digest"))
            m = t.schema_migrations
            conn.execute(delete(m).where(m.c.subsystem == "vulns", m.c.number == 3))
            conn.execute(
                text(
                    "INSERT INTO vuln_advisories (source, id, fingerprint, withdrawn, version,"
                    " content) VALUES ('osv:PyPI', 'OLD-1', 'fp', false, 1, :c)"
                ),
                {"c": b"{}"},
            )
        applied = migrate(db)
        assert [(a.subsystem, a.number) for a in applied] == [("vulns", 3)]
        with db.read() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("vuln_advisories")}
            adv = t.vuln_advisories
            kept = conn.execute(select(adv.c.id, adv.c.read_digest)).all()
        assert "read_digest" in columns
        assert [tuple(r) for r in kept] == [("OLD-1", None)]
        vdb = VulnDb(SqlStore(db), ControlledClock())
        report = import_paths(vdb, [folder], workers=1)
        assert [len(r.added) for r in report.results] == [3]
        with vdb.store.read() as uow:
            assert sorted(aid for aid, _ in uow.vulns.known_records().values()) == [
                "GHSA-0",
                "GHSA-1",
                "GHSA-2",
            ]
        assert migrate(db) == []
    finally:
        db.close()
