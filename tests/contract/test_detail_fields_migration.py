"""Migration findings/8 on both backends: a database made before it (detail documents as plain
JSON, no filter columns) gets the filter fields of every detail and package in columns, equal
to what the writer stores for a new detail, and on SQLite each document compressed, read back
the same; on PostgreSQL the documents stay the JSON they were. Afterwards the filters on those
fields (vendor severity, related vulnerabilities, package architecture, release and epoch, and
the title) select what the in-memory matcher selects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, inspect, text

from dockwatch.findings.criteria import parse_criteria
from dockwatch.findings.criteria_match import matches
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.finding_repo import load_details
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.migrations.detail_fields import ADDED
from dockwatch.storage.sql.schema.detail_document import FORMAT_V1, unpack
from tests.unit.queries import findings_db as fdb

from .conftest import BACKENDS, random_findings

CRITERIA: list[dict[str, Any]] = [
    *({"vendorSeverity": [{"comparison": "EQUALS", "value": v}]} for v in fdb.VENDOR if v),
    {"vendorSeverity": [{"comparison": "NOT_EQUALS", "value": "HIGH"}]},
    *({"relatedVulnerabilities": [{"comparison": "EQUALS", "value": r}]} for r in fdb.RELATED),
    {"relatedVulnerabilities": [{"comparison": "PREFIX", "value": "GHSA-1"}]},
    {"relatedVulnerabilities": [{"comparison": "NOT_EQUALS", "value": "PYSEC-1"}]},
    {"vulnerablePackages": [{"architecture": {"comparison": "EQUALS", "value": "arm64"}}]},
    {"vulnerablePackages": [{"release": {"comparison": "PREFIX", "value": "1.el9"}}]},
    {"vulnerablePackages": [{"epoch": {"lowerInclusive": 1}}]},
    {"title": [{"comparison": "PREFIX", "value": "CVE-2024-0002"}]},
]


def _stored(db: Database) -> dict[str, bytes]:
    """Each detail's document as the database holds it (past the column's type)."""
    with db.read() as conn:
        rows = conn.execute(text("SELECT ref, doc FROM finding_details")).all()
    return {str(ref): bytes(doc) for ref, doc in rows}


def _columns(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """The added columns' values, row by row, by table."""
    queries = {
        "finding_details": f"SELECT ref, {', '.join(ADDED['finding_details'])} "
        "FROM finding_details ORDER BY ref",
        "detail_packages": f"SELECT detail_ref, seq, {', '.join(ADDED['detail_packages'])} "
        "FROM detail_packages ORDER BY detail_ref, seq",
    }
    with db.read() as conn:
        return {name: [tuple(r) for r in conn.execute(text(sql))] for name, sql in queries.items()}


def _back_to_older(db: Database) -> None:
    """As before findings/8: no filter columns, plain JSON documents, the record gone."""
    plain = {ref: unpack(doc) for ref, doc in _stored(db).items()}
    with db.write() as conn:
        # findings/10 indexes a column findings/8 adds (PostgreSQL drops it with the column)
        conn.execute(text("DROP INDEX IF EXISTS ix_finding_details_vendor_severity"))
        for table, names in ADDED.items():
            for name in names:
                conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {name}"))
        conn.execute(
            text("UPDATE finding_details SET doc = :doc WHERE ref = :ref"),
            [{"ref": ref, "doc": doc} for ref, doc in plain.items()],
        )
        m = t.schema_migrations
        conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number == 8))


@pytest.mark.parametrize("backend", BACKENDS)
def test_filter_fields_become_columns_and_sqlite_compresses_documents(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with random_findings(backend, request, tmp_path, 3, 16) as (built, db):
        written = _columns(db)
        assert any(r[1] for r in written["finding_details"])
        assert any(r[2] is not None for r in written["finding_details"])
        _back_to_older(db)
        with db.read() as conn:
            have = {c["name"] for c in inspect(conn).get_columns("detail_packages")}
        assert not set(ADDED["detail_packages"]) & have
        plain = _stored(db)
        assert plain and all(v.startswith(b"{") for v in plain.values())
        with db.read() as conn:
            documents = load_details(conn, plain)

        applied = migrate(db)

        assert [(a.subsystem, a.number) for a in applied] == [("findings", 8)]
        assert _columns(db) == written
        after = _stored(db)
        if backend == "sqlite":
            assert all(v[:1] == FORMAT_V1 for v in after.values())
            assert sum(map(len, after.values())) < sum(map(len, plain.values())) / 2
        else:
            assert after == plain
        with db.read() as conn:
            assert load_details(conn, plain) == documents
        for doc in CRITERIA:
            criteria = parse_criteria(doc)
            expected = {i for i, f in built.shaped.items() if matches(criteria, f)}
            assert fdb.filtered_ids(db, doc) == expected, doc
        assert migrate(db) == []
