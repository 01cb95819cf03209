"""The `FindingQueryRepo` contract, run against the SQL store (SQLite) through the protocol only.

The store holds random findings of two tenants (`tests.unit.queries.findings_db`); expected
answers are computed from the stored rows with plain Python (sorting, grouping, counting), not
by the code under test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import pytest
from sqlalchemy import select

from dockwatch.model.finding_aggregation import AggregationQuery
from dockwatch.model.finding_criteria import Comparison, Criteria, StringFilter
from dockwatch.model.finding_sort import Position, Sort, SortField, SortOrder
from dockwatch.storage.finding_query_repo import FindingQueryRepo
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.storage.unit_of_work import Store
from tests.unit.queries import findings_db as fdb

RANK = {"CRITICAL": 5, "HIGH": 4, "MEDIUM": 3, "LOW": 2, "INFORMATIONAL": 1, "UNTRIAGED": 0}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[fdb.FindingsDb]:
    db = fdb.build_db(tmp_path_factory.mktemp("contract") / "f.db", 11, images=28)
    yield db
    db.db.close()


@pytest.fixture(scope="module")
def store(built: fdb.FindingsDb) -> Store:
    return SqlStore(built.db)


def _rows(built: fdb.FindingsDb) -> list[Any]:
    f = t.findings
    with built.db.read() as conn:
        return list(
            conn.execute(
                select(f).where(
                    f.c.account_id == fdb.TENANT.account_id, f.c.region == fdb.TENANT.region
                )
            ).all()
        )


def _walk(repo: FindingQueryRepo, criteria: Criteria, sort: Sort, limit: int) -> list[str]:
    ids: list[str] = []
    after: Position | None = None
    for _ in range(10_000):
        page = repo.list_findings(fdb.TENANT, criteria, sort, limit, after)
        assert len(page.findings) <= limit
        ids += [x.id for x in page.findings]
        if page.next is None:
            return ids
        assert len(page.findings) == limit and isinstance(page.next.seq, int)
        after = page.next
    raise AssertionError("the listing never ended")


@pytest.mark.parametrize("order", [SortOrder.ASC, SortOrder.DESC])
@pytest.mark.parametrize("limit", [1, 3, 50])
def test_pages_follow_the_sort_and_cover_the_tenant_once(
    built: fdb.FindingsDb, store: Store, order: SortOrder, limit: int
) -> None:
    rows = _rows(built)
    expected = sorted(
        rows, key=lambda r: (RANK[r.severity], r.seq), reverse=order is SortOrder.DESC
    )
    with store.read() as uow:
        got = _walk(uow.finding_queries, Criteria(), Sort(SortField.SEVERITY, order), limit)
    assert got == [r.id for r in expected]


def test_pages_by_repository_name_with_a_filter(built: fdb.FindingsDb, store: Store) -> None:
    rows = [r for r in _rows(built) if r.status != "CLOSED"]
    expected = sorted(rows, key=lambda r: (r.repository_name, r.seq))
    criteria = Criteria({"findingStatus": (StringFilter(Comparison.NOT_EQUALS, "CLOSED"),)})
    sort = Sort(SortField.ECR_IMAGE_REPOSITORY_NAME, SortOrder.ASC)
    with store.read() as uow:
        assert _walk(uow.finding_queries, criteria, sort, 4) == [r.id for r in expected]


def test_a_listed_finding_carries_its_row_detail_and_image(
    built: fdb.FindingsDb, store: Store
) -> None:
    row = _rows(built)[0]
    with store.read() as uow:
        found = uow.finding_queries.get_finding(fdb.TENANT, row.id)
        assert uow.finding_queries.get_finding(fdb.OTHER, row.id) is None
        assert uow.finding_queries.get_finding(fdb.TENANT, "no-such-id") is None
    assert found is not None
    assert (found.id, found.status, found.severity, found.digest) == (
        row.id, row.status, row.severity, row.digest,
    )  # fmt: skip
    assert found.first_observed_at == row.first_observed_at.replace(tzinfo=UTC)
    assert found.detail["packageVulnerabilityDetails"]["vulnerabilityId"] == row.vulnerability_id
    with built.db.read() as conn:
        tags = conn.execute(
            select(t.tags.c.name).where(
                t.tags.c.repository_id == row.repository_id,
                t.tags.c.manifest_digest == row.digest,
            )
        ).scalars()
        expected_tags = tuple(sorted(tags))
    assert found.image.tags == expected_tags
    assert found.image.repository == row.repository_name


def test_image_findings_meet_the_criteria_in_order(built: fdb.FindingsDb, store: Store) -> None:
    rows = _rows(built)
    image = Counter((r.repository_id, r.digest) for r in rows).most_common(1)[0][0]
    criteria = Criteria({"severity": (StringFilter(Comparison.NOT_EQUALS, "LOW"),)})
    expected = sorted(
        (r for r in rows if (r.repository_id, r.digest) == image and r.severity != "LOW"),
        key=lambda r: (r.vulnerability_id, r.seq),
    )
    with store.read() as uow:
        got = uow.finding_queries.image_findings(fdb.TENANT, image[0], image[1], criteria)
    assert [x.id for x in got] == [r.id for r in expected]


def test_account_totals_count_active_findings_by_severity(
    built: fdb.FindingsDb, store: Store
) -> None:
    active = Counter(r.severity.lower() for r in _rows(built) if r.status == "ACTIVE")
    with store.read() as uow:
        page = uow.finding_queries.aggregate(fdb.TENANT, AggregationQuery("ACCOUNT"))
    assert not page.more and len(page.groups) == 1
    counts = page.groups[0].counts
    assert counts["all"] == sum(active.values())
    for severity in RANK:
        assert counts[severity.lower()] == active[severity.lower()]


def test_aggregation_pages_resume_after_their_position(built: fdb.FindingsDb, store: Store) -> None:
    by_repo = Counter(r.repository_name for r in _rows(built) if r.status == "ACTIVE")
    expected = sorted(by_repo.items(), key=lambda kv: (-kv[1], kv[0]))
    seen: list[tuple[str, int]] = []
    after: tuple[Any, ...] | None = None
    query = AggregationQuery("REPOSITORY", sort_by="ALL", max_results=2)
    with store.read() as uow:
        while True:
            page = uow.finding_queries.aggregate(fdb.TENANT, query, after)
            seen += [(g.key["repository_name"], g.counts["all"]) for g in page.groups]
            if not page.more:
                break
            after = page.groups[-1].position
    assert seen == expected
