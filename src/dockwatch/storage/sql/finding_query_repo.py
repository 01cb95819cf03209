"""SQL implementation of `storage.finding_query_repo.FindingQueryRepo`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from dockwatch.model.finding_aggregation import AggregationQuery
from dockwatch.model.finding_criteria import Criteria
from dockwatch.model.finding_sort import Position, Sort
from dockwatch.model.identity import Tenant
from dockwatch.storage.finding_query_repo import (
    AggregationPage,
    FindingPage,
    ListedFinding,
)
from dockwatch.storage.sql.finding_queries import aggregation_sql, listing_sql, trend_sql


class SqlFindingQueryRepo:
    """`storage.finding_query_repo.FindingQueryRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def list_findings(
        self,
        tenant: Tenant,
        criteria: Criteria,
        sort: Sort,
        limit: int,
        after: Position | None = None,
    ) -> FindingPage:
        return listing_sql.list_page(self._conn, tenant, criteria, sort, limit, after)

    def list_findings_in(
        self,
        tenants: Sequence[Tenant],
        criteria: Criteria,
        sort: Sort,
        limit: int,
        after: Position | None = None,
    ) -> FindingPage:
        return listing_sql.list_page(self._conn, tenants, criteria, sort, limit, after)

    def get_finding(self, tenant: Tenant, finding_id: str) -> ListedFinding | None:
        return listing_sql.get_one(self._conn, tenant, finding_id)

    def image_findings(
        self, tenant: Tenant, repository_id: int, digest: str, criteria: Criteria
    ) -> list[ListedFinding]:
        return listing_sql.image_findings(self._conn, tenant, repository_id, digest, criteria)

    def aggregate(
        self, tenant: Tenant, query: AggregationQuery, after: Sequence[Any] | None = None
    ) -> AggregationPage:
        return aggregation_sql.aggregate(self._conn, tenant, query, after)

    def open_counts_at(self, tenant: Tenant, instants: Sequence[datetime]) -> dict[str, list[int]]:
        return trend_sql.open_counts_at(self._conn, tenant, instants)
