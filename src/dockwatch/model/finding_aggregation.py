"""A validated ListFindingAggregations request, as the query surface parses it and the store
counts it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field

from dockwatch.model.finding_criteria import Criteria, DateFilter, StringFilter
from dockwatch.value_class import frozen

MAX_RESULTS = 100


@frozen
class AggregationQuery:
    """A validated ListFindingAggregations request."""

    type: str
    strings: Mapping[str, tuple[StringFilter, ...]] = field(default_factory=dict)
    """The aggregation request's StringFilter lists, by their request field name."""
    last_in_use: tuple[DateFilter, ...] = ()
    finding_type: str | None = None
    resource_type: str | None = None
    accounts: tuple[StringFilter, ...] = ()
    criteria: Criteria = field(default_factory=Criteria)
    """dockwatch's extension: which findings count (default: findingStatus ACTIVE)."""
    sort_by: str = "CRITICAL"
    sort_order: str = "DESC"
    max_results: int = MAX_RESULTS
    next_token: str | None = None


AGGREGATION_KEYS: dict[str, tuple[str, ...]] = {
    "REPOSITORY": ("repository_name",),
    "AWS_ECR_CONTAINER": ("repository_name", "digest"),
    "IMAGE_LAYER": ("repository_name", "digest", "layer_hash"),
    "PACKAGE": ("package_name",),
    "TITLE": ("title", "vulnerability_id"),
    "FINDING_TYPE": ("account_id",),
    "ACCOUNT": ("account_id",),
}
"""The aggregation types dockwatch computes -> the key of one group, as answered, sorted on
(after the count) and carried by page tokens."""
