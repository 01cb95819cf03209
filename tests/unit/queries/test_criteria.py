"""FilterCriteria parsing, validation errors, the query-string form and the matching rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockwatch.errors import InvalidInput
from dockwatch.model.finding_criteria import Comparison, StringFilter
from dockwatch.queries.criteria import InvalidCriteria, parse_criteria
from dockwatch.queries.criteria_query import criteria_from_query
from dockwatch.queries.matcher import matches

EQ = "EQUALS"


def _s(value: str, comparison: str = EQ) -> dict[str, str]:
    return {"comparison": comparison, "value": value}


def _finding(**over: Any) -> dict[str, Any]:
    """A hand-written Inspector finding (the shape `shape.inspector_finding` produces)."""
    image = {
        "repositoryName": over.pop("repo", "prod-api"),
        "imageHash": "sha256:abc",
        "imageTags": over.pop("tags", ["latest", "v1"]),
        "pushedAt": over.pop("pushed", "2025-03-01T10:00:00+00:00"),
        "registry": "123456789012",
    }
    pvd = {
        "vulnerabilityId": over.pop("vuln", "CVE-2024-1"),
        "source": over.pop("source", "osv"),
        "vendorSeverity": over.pop("vendor", None),
        "relatedVulnerabilities": over.pop("related", ["GHSA-x"]),
        "vulnerablePackages": over.pop(
            "packages",
            [
                {"name": "openssl", "version": "3.0.1", "arch": "amd64", "epoch": 1},
                {"name": "zlib", "version": "1.2", "arch": "arm64", "epoch": None},
            ],
        ),
    }
    out = {
        "findingArn": "arn:aws:inspector2:us-east-1:123456789012:finding/f1",
        "awsAccountId": "123456789012",
        "type": "PACKAGE_VULNERABILITY",
        "title": "CVE-2024-1 - openssl",
        "severity": "HIGH",
        "status": "ACTIVE",
        "fixAvailable": "YES",
        "exploitAvailable": "NO",
        "firstObservedAt": "2025-03-02T00:00:00+00:00",
        "lastObservedAt": "2025-03-03T00:00:00+00:00",
        "updatedAt": "2025-03-03T00:00:00+00:00",
        "inspectorScore": 7.5,
        "packageVulnerabilityDetails": pvd,
        "resources": [
            {
                "type": "AWS_ECR_CONTAINER_IMAGE",
                "id": "arn:aws:ecr:us-east-1:123456789012:repository/prod-api/sha256:abc",
                "details": {"awsEcrContainerImage": image},
            }
        ],
    }
    out.update(over)
    return out


@pytest.mark.parametrize(
    ("doc", "field", "words"),
    [
        ({"severty": [_s("HIGH")]}, "filterCriteria.severty", "unknown filter criterion"),
        ({"resourceTags": []}, "filterCriteria.resourceTags", "not supported"),
        ({"lambdaFunctionName": [_s("f")]}, "filterCriteria.lambdaFunctionName", "not supported"),
        ({"severity": _s("HIGH")}, "filterCriteria.severity", "list of filters"),
        ({"severity": []}, "filterCriteria.severity", "1 to 10"),
        ({"severity": [_s("HIGH")] * 11}, "filterCriteria.severity", "1 to 10"),
        (
            {"severity": [{"comparison": "LIKE", "value": "HIGH"}]},
            "filterCriteria.severity[0].comparison",
            "EQUALS, PREFIX, NOT_EQUALS",
        ),
        (
            {"severity": [{"value": "HIGH"}]},
            "filterCriteria.severity[0].comparison",
            "required",
        ),
        ({"severity": [_s("high")]}, "filterCriteria.severity[0].value", "not one of"),
        ({"findingStatus": [_s("OPEN")]}, "filterCriteria.findingStatus[0].value", "ACTIVE"),
        ({"vulnerabilityId": [_s("")]}, "filterCriteria.vulnerabilityId[0].value", "1 to 1024"),
        ({"title": [_s("x" * 1025)]}, "filterCriteria.title[0].value", "1 to 1024"),
        ({"title": [{"comparison": EQ, "value": 3}]}, "filterCriteria.title[0].value", "string"),
        ({"title": [_s("a\x00b")]}, "filterCriteria.title[0].value", "NUL"),
        (
            {"title": [{**_s("a"), "extra": 1}]},
            "filterCriteria.title[0].extra",
            "unknown field",
        ),
        (
            {"firstObservedAt": [{"startInclusive": 20, "endInclusive": 10}]},
            "filterCriteria.firstObservedAt[0]",
            "after endInclusive",
        ),
        (
            {"updatedAt": [{"startInclusive": "yesterday"}]},
            "filterCriteria.updatedAt[0].startInclusive",
            "ISO 8601",
        ),
        (
            {"inspectorScore": [{"lowerInclusive": 9, "upperInclusive": 1}]},
            "filterCriteria.inspectorScore[0]",
            "above upperInclusive",
        ),
        (
            {"epssScore": [{"lowerInclusive": "0.5"}]},
            "filterCriteria.epssScore[0].lowerInclusive",
            "number",
        ),
        (
            {"epssScore": [{"lowerInclusive": float("nan")}]},
            "filterCriteria.epssScore[0].lowerInclusive",
            "finite",
        ),
        ({"vulnerablePackages": [{}]}, "filterCriteria.vulnerablePackages[0]", "no package"),
        (
            {"vulnerablePackages": [{"sourceLambdaLayerArn": _s("x")}]},
            "filterCriteria.vulnerablePackages[0].sourceLambdaLayerArn",
            "not supported",
        ),
        (
            {"vulnerablePackages": [{"name": _s("x", "CONTAINS")}]},
            "filterCriteria.vulnerablePackages[0].name.comparison",
            "EQUALS",
        ),
        ([], "filterCriteria", "object"),
    ],
)
def test_invalid_criteria_name_the_field(doc: Any, field: str, words: str) -> None:
    with pytest.raises(InvalidCriteria) as info:
        parse_criteria(doc)
    assert info.value.field == field
    assert words in str(info.value)
    assert isinstance(info.value, InvalidInput)  # answered as a 400 ValidationException


def test_prefix_skips_the_enum_check() -> None:
    c = parse_criteria({"severity": [_s("CRIT", "PREFIX")]})
    assert c.strings["severity"] == (StringFilter(Comparison.PREFIX, "CRIT"),)


def test_times_as_epoch_seconds_or_iso() -> None:
    a = parse_criteria({"updatedAt": [{"startInclusive": 1740787200}]})
    b = parse_criteria({"updatedAt": [{"startInclusive": "2025-03-01T00:00:00Z"}]})
    c = parse_criteria({"updatedAt": [{"startInclusive": "2025-03-01T01:00:00+01:00"}]})
    assert a == b == c
    assert a.dates["updatedAt"][0].start == datetime(2025, 3, 1, tzinfo=UTC)


_doc_values = st.text(st.characters(codec="utf-8", blacklist_characters="\x00"), min_size=1)


@settings(max_examples=100)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "vulnerabilityId": st.lists(
                st.builds(_s, _doc_values, st.sampled_from(("EQUALS", "PREFIX", "NOT_EQUALS"))),
                min_size=1,
                max_size=3,
            ),
            "inspectorScore": st.lists(
                st.fixed_dictionaries({}, optional={"lowerInclusive": st.floats(0, 5)}),
                min_size=1,
                max_size=2,
            ),
            "lastObservedAt": st.lists(
                st.fixed_dictionaries({}, optional={"endInclusive": st.integers(0, 2_000_000_000)}),
                min_size=1,
                max_size=2,
            ),
            "vulnerablePackages": st.lists(
                st.fixed_dictionaries(
                    {"name": st.builds(_s, _doc_values)},
                    optional={"epoch": st.fixed_dictionaries({"upperInclusive": st.floats(0, 9)})},
                ),
                min_size=1,
                max_size=2,
            ),
        },
    )
)
def test_to_wire_reads_back(doc: dict[str, Any]) -> None:
    c = parse_criteria(doc)
    assert parse_criteria(c.to_wire()) == c


# --- query parameters -------------------------------------------------------------------------


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
        "severity": [_s("HIGH"), _s("CRITICAL")],
        "ecrImageRepositoryName": [_s("prod-", "PREFIX")],
        "findingStatus": [_s("CLOSED", "NOT_EQUALS")],
        "vulnerabilityId": [_s("!odd"), _s("star*")],
        "firstObservedAt": [
            {
                "startInclusive": "2025-01-01T00:00:00+00:00",
                "endInclusive": "2026-01-01T00:00:00+00:00",
            }
        ],
        "inspectorScore": [{"lowerInclusive": 7.0}],
        "vulnerablePackages": [
            {"name": _s("openssl"), "version": _s("1.0")},
            {"name": _s("zlib"), "version": _s("1.0")},
        ],
    }


def test_query_filter_criteria_json() -> None:
    c = criteria_from_query(
        {"filterCriteria": ['{"severity": [{"comparison": "EQUALS", "value": "LOW"}]}']}
    )
    assert c.to_wire() == {"severity": [_s("LOW")]}


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


def _m(doc: dict[str, Any], **finding: Any) -> bool:
    return matches(parse_criteria(doc), _finding(**finding))


def test_equals_and_prefix_filters_of_a_key_are_ored() -> None:
    assert _m({"severity": [_s("LOW"), _s("HIGH")]})
    assert _m({"ecrImageRepositoryName": [_s("dev", "PREFIX"), _s("prod", "PREFIX")]})
    assert not _m({"severity": [_s("LOW"), _s("CRITICAL")]})


def test_not_equals_filters_of_a_key_are_anded() -> None:
    assert _m({"severity": [_s("LOW", "NOT_EQUALS"), _s("CRITICAL", "NOT_EQUALS")]})
    assert not _m({"severity": [_s("LOW", "NOT_EQUALS"), _s("HIGH", "NOT_EQUALS")]})
    # mixed: (EQUALS or PREFIX ...) and every NOT_EQUALS
    assert _m({"vulnerabilityId": [_s("CVE-", "PREFIX"), _s("CVE-2024-2", "NOT_EQUALS")]})
    assert not _m({"vulnerabilityId": [_s("CVE-", "PREFIX"), _s("CVE-2024-1", "NOT_EQUALS")]})


def test_keys_are_anded() -> None:
    assert _m({"severity": [_s("HIGH")], "fixAvailable": [_s("YES")]})
    assert not _m({"severity": [_s("HIGH")], "fixAvailable": [_s("NO")]})


def test_list_fields_any_element_and_none_equal() -> None:
    assert _m({"ecrImageTags": [_s("v1")]})
    assert _m({"ecrImageTags": [_s("lat", "PREFIX")]})
    assert not _m({"ecrImageTags": [_s("v1", "NOT_EQUALS")]})
    assert _m({"ecrImageTags": [_s("v2", "NOT_EQUALS")]})
    assert _m({"ecrImageTags": [_s("v1", "NOT_EQUALS")]}, tags=[])  # untagged
    assert not _m({"ecrImageTags": [_s("v1")]}, tags=[])
    assert _m({"relatedVulnerabilities": [_s("GHSA", "PREFIX")]})


def test_absent_values() -> None:
    assert not _m({"vendorSeverity": [_s("HIGH")]})
    assert _m({"vendorSeverity": [_s("HIGH", "NOT_EQUALS")]})
    assert not _m({"epssScore": [{"lowerInclusive": 0}]})
    assert not _m({"ecrImagePushedAt": [{}]}, pushed=None)
    assert _m({"ecrImagePushedAt": [{}]})


def test_case_sensitive() -> None:
    assert not _m({"ecrImageRepositoryName": [_s("PROD", "PREFIX")]})


def test_package_filter_holds_for_one_package() -> None:
    both = {"name": _s("openssl"), "architecture": _s("arm64")}
    assert not _m({"vulnerablePackages": [both]})  # openssl is amd64, zlib is arm64
    assert _m({"vulnerablePackages": [both, {"name": _s("zlib")}]})  # filters are ORed
    assert _m({"vulnerablePackages": [{"name": _s("openssl"), "epoch": {"lowerInclusive": 1}}]})
    assert not _m({"vulnerablePackages": [{"name": _s("zlib"), "epoch": {"lowerInclusive": 0}}]})
    assert _m({"vulnerablePackages": [{"release": _s("el9", "NOT_EQUALS")}]})  # absent release


def test_constant_fields() -> None:
    assert _m({"findingType": [_s("PACKAGE_VULNERABILITY")]})
    assert not _m({"resourceType": [_s("AWS_LAMBDA_FUNCTION")]})
    assert _m({"resourceType": [_s("AWS_LAMBDA_FUNCTION", "NOT_EQUALS")]})


def test_dates_and_numbers() -> None:
    assert _m({"firstObservedAt": [{"startInclusive": "2025-03-02T00:00:00Z"}]})  # inclusive
    assert not _m({"firstObservedAt": [{"endInclusive": "2025-03-01T23:59:59Z"}]})
    assert _m({"inspectorScore": [{"lowerInclusive": 9}, {"upperInclusive": 7.5}]})  # ORed
    assert not _m({"inspectorScore": [{"lowerInclusive": 7.6}]})
