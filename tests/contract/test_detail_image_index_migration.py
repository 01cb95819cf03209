"""Migration findings/10 on both backends: a database made before it (no image key or status
code, the detail index on the detail ref alone) gets `findings.image_key` and
`findings.status_code`, computed as `image_key` and `STATUS_CODES` say,
`ix_findings_detail_image` in place of `ix_findings_detail` and the vendor severity index, and
then answers image-grain aggregations filtered by the detail document as a database created
with them does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, inspect, select, text

from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.schema.findings import STATUS_CODES, image_key
from tests.unit.queries import findings_db as fdb

from .conftest import BACKENDS, random_findings

CRITERIA: list[dict[str, Any]] = [
    {"vendorSeverity": [{"comparison": "EQUALS", "value": "HIGH"}]},
    {"relatedVulnerabilities": [{"comparison": "PREFIX", "value": "GHSA-1"}],
     "findingStatus": [{"comparison": "NOT_EQUALS", "value": "CLOSED"}]},
]  # fmt: skip


def _before(db: Database) -> None:
    """As before findings/10: no image key or status code, `ix_findings_detail` on the detail
    ref, no vendor severity index, the image index led by the digest and `ix_findings_vuln`
    (findings/14 had not come either); the records gone."""
    with db.write() as conn:
        conn.execute(text("DROP INDEX ix_findings_image"))
        conn.execute(
            text(
                "CREATE INDEX ix_findings_image ON findings "
                "(repository_id, digest, vulnerability_id)"
            )
        )
        conn.execute(text("CREATE INDEX ix_findings_vuln ON findings (vulnerability_id)"))
        conn.execute(text("DROP INDEX ix_findings_detail_image"))
        conn.execute(text("DROP INDEX ix_finding_details_vendor_severity"))
        conn.execute(text("ALTER TABLE findings DROP COLUMN image_key"))
        conn.execute(text("ALTER TABLE findings DROP COLUMN status_code"))
        conn.execute(text("CREATE INDEX ix_findings_detail ON findings (detail_ref)"))
        m = t.schema_migrations
        conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number.in_([10, 14])))


def _answers(db: Database) -> list[Any]:
    with db.read() as conn:
        return [
            fdb.aggregation_pages(
                conn, {"aggregationType": kind, "maxResults": 100, "filterCriteria": criteria}
            )
            for criteria in CRITERIA
            for kind in ("REPOSITORY", "AWS_ECR_CONTAINER", "IMAGE_LAYER")
        ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_older_database_gains_the_image_key_and_its_index(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    reference = fdb.build_db(tmp_path / "reference.db", 5, images=30)  # same seed, same store
    try:
        expected = _answers(reference.db)
    finally:
        reference.db.close()
    assert any(expected)
    with random_findings(backend, request, tmp_path, 5, 30) as (_built, db):
        _before(db)

        applied = migrate(db)

        assert [(a.subsystem, a.number) for a in applied] == [("findings", 10), ("findings", 14)]
        with db.read() as conn:
            insp = inspect(conn)
            indexes = {ix["name"]: ix["column_names"] for ix in insp.get_indexes("findings")}
            assert "ix_findings_detail" not in indexes and "ix_findings_vuln" not in indexes
            assert indexes["ix_findings_image"] == [
                "repository_id",
                "image_key",
                "vulnerability_id",
            ]
            assert indexes["ix_findings_detail_image"][:5] == [
                "detail_ref", "status_code", "repository_id", "image_key", "severity_rank"
            ]  # fmt: skip
            details = {ix["name"] for ix in insp.get_indexes("finding_details")}
            assert "ix_finding_details_vendor_severity" in details
            f = t.findings
            columns = (f.c.digest, f.c.image_key, f.c.status, f.c.status_code)
            rows = conn.execute(select(*columns)).all()
        assert rows and all(key == image_key(digest) for digest, key, _, _ in rows)
        assert all(code == STATUS_CODES[status] for _, _, status, code in rows)
        assert _answers(db) == expected
        assert migrate(db) == []
