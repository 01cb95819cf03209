"""Listing order of findings (Inspector's `SortCriteria`) and the keyset position a page resumes
after: pure values shared by the query surface and the store."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from dockwatch.value_class import frozen

SEVERITY_RANK = {
    "CRITICAL": 5,
    "HIGH": 4,
    "MEDIUM": 3,
    "LOW": 2,
    "INFORMATIONAL": 1,
    "UNTRIAGED": 0,
}
"""Severity order for SEVERITY sorting (DESC puts CRITICAL first)."""

NO_SCORE = -1.0
"""Sort value of a missing score (scores sort below every real one)."""


class SortField(StrEnum):
    """Inspector's `SortField` values that apply to ECR image findings."""

    SEVERITY = "SEVERITY"
    FIRST_OBSERVED_AT = "FIRST_OBSERVED_AT"
    LAST_OBSERVED_AT = "LAST_OBSERVED_AT"
    FINDING_STATUS = "FINDING_STATUS"
    ECR_IMAGE_PUSHED_AT = "ECR_IMAGE_PUSHED_AT"
    ECR_IMAGE_REPOSITORY_NAME = "ECR_IMAGE_REPOSITORY_NAME"
    VULNERABILITY_ID = "VULNERABILITY_ID"
    VULNERABILITY_SOURCE = "VULNERABILITY_SOURCE"
    INSPECTOR_SCORE = "INSPECTOR_SCORE"
    EPSS_SCORE = "EPSS_SCORE"


class SortOrder(StrEnum):
    """`SortCriteria.sortOrder`."""

    ASC = "ASC"
    DESC = "DESC"


@frozen
class Sort:
    """A listing order; the order findings were stored in breaks ties, in the same direction."""

    field: SortField = SortField.SEVERITY
    order: SortOrder = SortOrder.DESC


@frozen
class Position:
    """Where a page resumes: after (sort value, `seq`: the stored order of the finding that
    ended the page). `value` is JSON as a token holds it (times as ISO 8601 strings,
    severities as ranks, missing scores as `NO_SCORE`)."""

    value: Any
    seq: int


TIME_FIELDS = (
    SortField.FIRST_OBSERVED_AT,
    SortField.LAST_OBSERVED_AT,
    SortField.ECR_IMAGE_PUSHED_AT,
)
NUMBER_FIELDS = (SortField.SEVERITY, SortField.INSPECTOR_SCORE, SortField.EPSS_SCORE)


def bound_value(field: SortField, value: Any) -> Any:
    """A position's sort value as the store compares it (raises ValueError when malformed)."""
    if field in TIME_FIELDS:
        if not isinstance(value, str):
            raise ValueError("time expected")
        return datetime.fromisoformat(value).astimezone(UTC)
    if field in NUMBER_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("number expected")
        return int(value) if field is SortField.SEVERITY else float(value)
    if not isinstance(value, str):
        raise ValueError("string expected")
    return value
