"""CoverageFilterCriteria parsing checked against botocore's model of Inspector: every key the
model has is taken with the filter shape the model gives it, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from dockwatch.findings.criteria import InvalidCriteria
from dockwatch.model.coverage_criteria import DATE_KEYS, MAP_KEYS, NUMBER_KEYS, STRING_KEYS
from dockwatch.queries.coverage_criteria import (
    ENUMS,
    coverage_criteria_from_query,
    parse_coverage_criteria,
)
from tests.support.botocore_shapes import service

_KIND = {
    "CoverageStringFilter": STRING_KEYS,
    "CoverageDateFilter": DATE_KEYS,
    "CoverageNumberFilter": NUMBER_KEYS,
    "CoverageMapFilter": MAP_KEYS,
}


def _model_keys() -> dict[str, str]:
    members = service("inspector2").shape_for("CoverageFilterCriteria").members  # type: ignore[attr-defined]
    return {key: shape.member.name for key, shape in members.items()}


def test_the_keys_and_their_filter_shapes_are_the_models() -> None:
    ours = {key: kind for kind, keys in _KIND.items() for key in keys}
    assert ours == _model_keys()


def test_comparisons_and_enums_are_the_models() -> None:
    model = service("inspector2")
    assert set(model.shape_for("CoverageStringComparison").enum) == {"EQUALS", "NOT_EQUALS"}  # type: ignore[attr-defined]
    assert set(ENUMS["scanStatusCode"]) == set(model.shape_for("ScanStatusCode").enum)  # type: ignore[attr-defined]
    assert set(ENUMS["scanType"]) == set(model.shape_for("ScanType").enum)  # type: ignore[attr-defined]
    assert set(ENUMS["resourceType"]) == set(model.shape_for("CoverageResourceType").enum)  # type: ignore[attr-defined]


def _sample(key: str, kind: str) -> dict[str, Any]:
    value = ENUMS[key][0] if key in ENUMS else "x"
    samples: dict[str, dict[str, Any]] = {
        "CoverageStringFilter": {"comparison": "NOT_EQUALS", "value": value},
        "CoverageDateFilter": {"startInclusive": 0, "endInclusive": "2026-01-01T00:00:00Z"},
        "CoverageNumberFilter": {"lowerInclusive": 1, "upperInclusive": 2},
        "CoverageMapFilter": {"comparison": "EQUALS", "key": "k", "value": "v"},
    }
    return samples[kind]


def test_every_model_key_is_accepted_in_its_shape() -> None:
    for key, kind in _model_keys().items():
        parsed = parse_coverage_criteria({key: [_sample(key, kind)]})
        assert key in {**parsed.strings, **parsed.ranges, **parsed.maps}


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"nope": []}, "filterCriteria.nope"),
        ({"accountId": {"comparison": "EQUALS"}}, "filterCriteria.accountId"),
        ({"accountId": [{"comparison": "PREFIX", "value": "1"}]}, "accountId[0].comparison"),
        ({"accountId": [{"comparison": "EQUALS", "value": ""}]}, "accountId[0].value"),
        ({"scanStatusCode": [{"comparison": "EQUALS", "value": "OK"}]}, "scanStatusCode[0].value"),
        ({"lastScannedAt": [{"startInclusive": 5, "endInclusive": 1}]}, "lastScannedAt[0]"),
        ({"ecrImageInUseCount": [{"lowerInclusive": 1.5}]}, "ecrImageInUseCount[0].lowerInclusive"),
        ({"ec2InstanceTags": [{"comparison": "NOT_EQUALS", "key": "k"}]}, "ec2InstanceTags[0]"),
        ({"ecrImageTags": [{"comparison": "EQUALS", "value": "v"}] * 11}, "ecrImageTags"),
    ],
)
def test_bad_documents_name_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidCriteria) as caught:
        parse_coverage_criteria(doc)
    assert field in str(caught.value)


def test_query_parameters_map_to_the_same_criteria() -> None:
    got = coverage_criteria_from_query(
        {
            "repositoryName": ["a", "!b"],
            "ecrImageTags": ["\\!x"],
            "lastScannedAtFrom": ["2026-01-01T00:00:00Z"],
            "ecrImageInUseCountMax": ["3"],
        }
    )
    want = parse_coverage_criteria(
        {
            "ecrRepositoryName": [
                {"comparison": "EQUALS", "value": "a"},
                {"comparison": "NOT_EQUALS", "value": "b"},
            ],
            "ecrImageTags": [{"comparison": "EQUALS", "value": "!x"}],
            "lastScannedAt": [{"startInclusive": "2026-01-01T00:00:00Z"}],
            "ecrImageInUseCount": [{"upperInclusive": 3}],
        }
    )
    assert got == want
    for bad in ({"unknownKey": ["x"]}, {"lastScannedAtFrom": ["a", "b"]}):
        with pytest.raises(InvalidCriteria):
            coverage_criteria_from_query(bad)
