"""Finding aggregations and listings answer the same on SQLite and PostgreSQL.

Both read the rollup tables (filtered by the images' columns for criteria that only choose
images, by detail-level columns for criteria on what a finding is) or group `findings`; SQLite
keeps them with triggers and groups with index hints, PostgreSQL keeps them through a count log
(the copy brings the rollup rows beside the findings) and takes some paths apart where its
planner was measured faster (`finding_queries/aggregation_images.py`). The same random store
(`tests.unit.queries.findings_db`: colliding names, several statuses and tenants) is copied from
SQLite into PostgreSQL, and every answer, paged to the end, must be equal. Each side is itself
checked against a brute force elsewhere (the aggregation property test, the finding query
contract on SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dockwatch.findings.criteria import parse_criteria
from dockwatch.model.finding_sort import Sort, SortField, SortOrder
from dockwatch.queries import aggregations as ag
from dockwatch.queries.listing import list_findings
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.finding_query_repo import SqlFindingQueryRepo
from dockwatch.storage.store_copy import copy_tables
from tests.unit.queries import findings_db as fdb


def _eq(value: str) -> list[dict[str, str]]:
    return [{"comparison": "EQUALS", "value": value}]


CRITERIA: list[dict[str, Any]] = [
    {},
    {"ecrImageRepositoryName": _eq("app")},
    {"ecrImageRepositoryName": [{"comparison": "PREFIX", "value": "app"}], "severity": _eq("HIGH")},
    {"ecrImageTags": _eq("latest"), "findingStatus": [{"comparison": "NOT_EQUALS",
                                                       "value": "CLOSED"}]},
    {"fixAvailable": _eq("YES")},
    {"severity": _eq("CRITICAL")},
    {"findingStatus": _eq("SUPPRESSED")},
    {"exploitAvailable": _eq("NO"), "inspectorScore": [{"lowerInclusive": 5.0}],
     "severity": [{"comparison": "NOT_EQUALS", "value": "LOW"}]},
    {"vulnerablePackages": [{"name": {"comparison": "PREFIX", "value": "openssl"}}],
     "vulnerabilityId": [{"comparison": "PREFIX", "value": "CVE-"}],
     "findingStatus": [{"comparison": "NOT_EQUALS", "value": "ACTIVE"}]},
    {"fixAvailable": [{"comparison": "NOT_EQUALS", "value": "NO"}],
     "ecrImageRepositoryName": [{"comparison": "PREFIX", "value": "app"}]},
    {"vendorSeverity": _eq("HIGH"), "findingStatus": [{"comparison": "NOT_EQUALS",
                                                        "value": "SUPPRESSED"}]},
    {"inspectorScore": [{"lowerInclusive": 7.0}], "exploitAvailable": _eq("YES")},
]  # fmt: skip


def _aggregations(db: Database, criteria: dict[str, Any], kind: str) -> list[Any]:
    with db.read() as conn:
        body: dict[str, Any] = {"aggregationType": kind, "maxResults": 3}
        if criteria:
            body["filterCriteria"] = criteria
        return fdb.aggregation_pages(conn, body)


def _listing(db: Database, criteria: dict[str, Any], field: SortField) -> list[str]:
    with db.read() as conn:
        page = list_findings(
            SqlFindingQueryRepo(conn),
            fdb.TENANT,
            parse_criteria(criteria),
            Sort(field, SortOrder.DESC),
            limit=1000,
        )
    return [f["findingArn"] for f in page.findings]


def test_sqlite_and_postgresql_answer_alike(tmp_path: Path, postgres_url: str) -> None:
    built = fdb.build_db(tmp_path / "f.db", 5, images=30)
    pg = Database(postgres_url)
    try:
        digest = built.digests[0]
        cases = [*CRITERIA, {"ecrImageHash": _eq(digest)}]
        copy_tables(built.db, pg)
        answered = 0
        for criteria in cases:
            for kind in ag.MEMBERS:
                lite = _aggregations(built.db, criteria, kind)
                assert lite == _aggregations(pg, criteria, kind), (kind, criteria)
                answered += bool(lite)
            for field in (SortField.SEVERITY, SortField.LAST_OBSERVED_AT):
                assert _listing(built.db, criteria, field) == _listing(pg, criteria, field)
        assert answered > len(cases) * 3  # most requests have groups to compare
    finally:
        pg.close()
        built.db.close()
