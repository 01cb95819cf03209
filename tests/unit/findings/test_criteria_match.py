"""The matching rules of FilterCriteria on Inspector-shaped findings."""

from __future__ import annotations

from typing import Any

from dockwatch.findings.criteria import parse_criteria
from dockwatch.findings.criteria_match import matches
from tests.unit.queries.criteria_docs import finding, s


def _m(doc: dict[str, Any], **over: Any) -> bool:
    return matches(parse_criteria(doc), finding(**over))


def test_equals_and_prefix_filters_of_a_key_are_ored() -> None:
    assert _m({"severity": [s("LOW"), s("HIGH")]})
    assert _m({"ecrImageRepositoryName": [s("dev", "PREFIX"), s("prod", "PREFIX")]})
    assert not _m({"severity": [s("LOW"), s("CRITICAL")]})


def test_not_equals_filters_of_a_key_are_anded() -> None:
    assert _m({"severity": [s("LOW", "NOT_EQUALS"), s("CRITICAL", "NOT_EQUALS")]})
    assert not _m({"severity": [s("LOW", "NOT_EQUALS"), s("HIGH", "NOT_EQUALS")]})
    # mixed: (EQUALS or PREFIX ...) and every NOT_EQUALS
    assert _m({"vulnerabilityId": [s("CVE-", "PREFIX"), s("CVE-2024-2", "NOT_EQUALS")]})
    assert not _m({"vulnerabilityId": [s("CVE-", "PREFIX"), s("CVE-2024-1", "NOT_EQUALS")]})


def test_keys_are_anded() -> None:
    assert _m({"severity": [s("HIGH")], "fixAvailable": [s("YES")]})
    assert not _m({"severity": [s("HIGH")], "fixAvailable": [s("NO")]})


def test_list_fields_any_element_and_none_equal() -> None:
    assert _m({"ecrImageTags": [s("v1")]})
    assert _m({"ecrImageTags": [s("lat", "PREFIX")]})
    assert not _m({"ecrImageTags": [s("v1", "NOT_EQUALS")]})
    assert _m({"ecrImageTags": [s("v2", "NOT_EQUALS")]})
    assert _m({"ecrImageTags": [s("v1", "NOT_EQUALS")]}, tags=[])  # untagged
    assert not _m({"ecrImageTags": [s("v1")]}, tags=[])
    assert _m({"relatedVulnerabilities": [s("GHSA", "PREFIX")]})


def test_absent_values() -> None:
    assert not _m({"vendorSeverity": [s("HIGH")]})
    assert _m({"vendorSeverity": [s("HIGH", "NOT_EQUALS")]})
    assert not _m({"epssScore": [{"lowerInclusive": 0}]})
    assert not _m({"ecrImagePushedAt": [{}]}, pushed=None)
    assert _m({"ecrImagePushedAt": [{}]})


def test_case_sensitive() -> None:
    assert not _m({"ecrImageRepositoryName": [s("PROD", "PREFIX")]})


def test_package_filter_holds_for_one_package() -> None:
    both = {"name": s("openssl"), "architecture": s("arm64")}
    assert not _m({"vulnerablePackages": [both]})  # openssl is amd64, zlib is arm64
    assert _m({"vulnerablePackages": [both, {"name": s("zlib")}]})  # filters are ORed
    assert _m({"vulnerablePackages": [{"name": s("openssl"), "epoch": {"lowerInclusive": 1}}]})
    assert not _m({"vulnerablePackages": [{"name": s("zlib"), "epoch": {"lowerInclusive": 0}}]})
    assert _m({"vulnerablePackages": [{"release": s("el9", "NOT_EQUALS")}]})  # absent release


def test_constant_fields() -> None:
    assert _m({"findingType": [s("PACKAGE_VULNERABILITY")]})
    assert not _m({"resourceType": [s("AWS_LAMBDA_FUNCTION")]})
    assert _m({"resourceType": [s("AWS_LAMBDA_FUNCTION", "NOT_EQUALS")]})


def test_dates_and_numbers() -> None:
    assert _m({"firstObservedAt": [{"startInclusive": "2025-03-02T00:00:00Z"}]})  # inclusive
    assert not _m({"firstObservedAt": [{"endInclusive": "2025-03-01T23:59:59Z"}]})
    assert _m({"inspectorScore": [{"lowerInclusive": 9}, {"upperInclusive": 7.5}]})  # ORed
    assert not _m({"inspectorScore": [{"lowerInclusive": 7.6}]})
