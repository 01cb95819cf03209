"""The storage interface for Inspector's query surface over findings: filter criteria, listing,
sorting, aggregations.

Services depend on this protocol only; `storage/sql/finding_query_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a page reads one consistent snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import field
from datetime import datetime
from typing import Any, Protocol

from dockwatch.model.finding_aggregation import AggregationQuery
from dockwatch.model.finding_criteria import Criteria
from dockwatch.model.finding_sort import Position, Sort
from dockwatch.model.identity import Tenant
from dockwatch.value_class import frozen


@frozen
class ImageFacts:
    """What a finding's image contributes to it: tags and push time."""

    repository: str
    digest: str
    tags: tuple[str, ...] = ()
    pushed_at: datetime | None = None


@frozen
class ListedFinding:
    """One stored finding with its detail document and its image's facts."""

    id: str
    repository_id: int
    repository_name: str
    digest: str
    vulnerability_id: str
    status: str
    severity: str
    fix_available: str
    first_observed_at: datetime
    last_observed_at: datetime
    updated_at: datetime
    detail_ref: str
    suppressed_by: str | None
    detail: Mapping[str, Any]
    image: ImageFacts
    tenant: Tenant | None = None
    """The (account, region) the finding belongs to (set by listings over several tenants)."""


@frozen
class FindingPage:
    """One page of a listing; `next` is where the following page starts (None: the last)."""

    findings: list[ListedFinding]
    next: Position | None


@frozen
class AggregationGroup:
    """One group of an aggregation with its counts by severity (`all` included)."""

    key: Mapping[str, str]
    """The group's key (`model.finding_aggregation.AGGREGATION_KEYS` of its type)."""
    position: tuple[Any, ...]
    """(sort count, *key): where the next page starts when this group ends one."""
    counts: Mapping[str, int]
    affected_images: int | None = None
    fix_available: int | None = None
    exploit_available: int | None = None
    tags: tuple[str, ...] = ()
    last_in_use: datetime | None = None


@frozen
class AggregationPage:
    """One page of groups; `more` when another page follows."""

    groups: list[AggregationGroup] = field(default_factory=list)
    more: bool = False


class FindingQueryRepo(Protocol):
    """Inspector's query surface over findings: filter criteria, listing, sorting, aggregations."""

    def list_findings(
        self,
        tenant: Tenant,
        criteria: Criteria,
        sort: Sort,
        limit: int,
        after: Position | None = None,
    ) -> FindingPage:
        """Up to `limit` of the tenant's findings meeting `criteria` in `sort` order, after
        `after` (keyset). Raises ValueError when `after.value` does not fit the sort."""
        ...

    def list_findings_in(
        self,
        tenants: Sequence[Tenant],
        criteria: Criteria,
        sort: Sort,
        limit: int,
        after: Position | None = None,
    ) -> FindingPage:
        """`list_findings` over the findings of several tenants of one region at once (an
        Inspector delegated administrator's view), one keyset order across them all."""
        ...

    def get_finding(self, tenant: Tenant, finding_id: str) -> ListedFinding | None:
        """One of the tenant's findings by id."""
        ...

    def image_findings(
        self, tenant: Tenant, repository_id: int, digest: str, criteria: Criteria
    ) -> list[ListedFinding]:
        """An image's findings meeting `criteria`, by vulnerability id then finding id."""
        ...

    def aggregate(
        self, tenant: Tenant, query: AggregationQuery, after: Sequence[Any] | None = None
    ) -> AggregationPage:
        """One page of `query`'s groups after the position `after` (see `AggregationGroup`)."""
        ...

    def open_counts_at(self, tenant: Tenant, instants: Sequence[datetime]) -> dict[str, list[int]]:
        """Severity -> how many of the tenant's findings were open (observed, not yet closed,
        not suppressed now) at each of `instants`, in their order."""
        ...
