"""FilterCriteria from query parameters."""

from __future__ import annotations

import pytest

from dockwatch.findings.criteria import InvalidCriteria
from dockwatch.queries.criteria_query import criteria_from_query

from .criteria_docs import s


def test_query_syntax() -> None:
    c = criteria_from_query(
        {
            "severity": ["HIGH", "CRITICAL"],
            "ecrImageRepositoryName": ["prod-*"],
            "findingStatus": ["!CLOSED"],
            "vulnerabilityId": ["\\!odd", "star\\*"],
            "packageName": ["openssl", "zlib"],
            "packageVersion": ["1.0"],
            "inspectorScoreMin": ["7"],
            "firstObservedAtFrom": ["2025-01-01T00:00:00Z"],
            "firstObservedAtTo": ["1767225600"],
            "maxResults": ["10"],
            "nextToken": ["x"],
        }
    )
    assert c.to_wire() == {
        "severity": [s("HIGH"), s("CRITICAL")],
        "ecrImageRepositoryName": [s("prod-", "PREFIX")],
        "findingStatus": [s("CLOSED", "NOT_EQUALS")],
        "vulnerabilityId": [s("!odd"), s("star*")],
        "firstObservedAt": [
            {
                "startInclusive": "2025-01-01T00:00:00+00:00",
                "endInclusive": "2026-01-01T00:00:00+00:00",
            }
        ],
        "inspectorScore": [{"lowerInclusive": 7.0}],
        "vulnerablePackages": [
            {"name": s("openssl"), "version": s("1.0")},
            {"name": s("zlib"), "version": s("1.0")},
        ],
    }


def test_query_filter_criteria_json() -> None:
    c = criteria_from_query(
        {"filterCriteria": ['{"severity": [{"comparison": "EQUALS", "value": "LOW"}]}']}
    )
    assert c.to_wire() == {"severity": [s("LOW")]}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"severty": ["HIGH"]}, "severty"),
        ({"filterCriteria": ["{"]}, "filterCriteria"),
        ({"filterCriteria": ["{}"], "severity": ["LOW"]}, "severity"),
        ({"inspectorScore": ["7"]}, "inspectorScore"),
        ({"inspectorScoreMin": ["high"]}, "inspectorScoreMin"),
        ({"updatedAtFrom": ["a", "b"]}, "updatedAtFrom"),
        ({"packageName": ["a", "b"], "packageVersion": ["1", "2"]}, "packageVersion"),
        ({"severity": ["high"]}, "filterCriteria.severity[0].value"),
    ],
)
def test_query_errors(params: dict[str, list[str]], field: str) -> None:
    with pytest.raises(InvalidCriteria) as info:
        criteria_from_query(params)
    assert info.value.field == field


def test_query_ignores_named_parameters() -> None:
    assert criteria_from_query({"type": ["REPOSITORY"]}, ignore={"type"}).is_empty()


# --- matching rules ------------------------------------------------------------------------------
