"""Registry scanning configuration: ECR's documented filter semantics and limits."""

from __future__ import annotations

from typing import Any

import pytest

from dockwatch.scan.config import (
    RegistryScanningConfiguration,
    RepositoryFilter,
    ScanConfigInvalid,
    ScanFrequency,
    parse_configuration,
)

# the example table of the ECR user guide (image-scanning.md)
ECR_EXAMPLES = {
    "prod": {"prod", "repo-prod", "prod-repo", "repo-prod-repo", "prodrepo"},
    "*prod": {"prod", "repo-prod"},
    "prod*": {"prod", "prod-repo", "prodrepo"},
    "prod*repo": {"prod-repo", "prodrepo"},
}
NAMES = ["prod", "repo-prod", "prod-repo", "repo-prod-repo", "prodrepo"]


@pytest.mark.parametrize("pattern", sorted(ECR_EXAMPLES))
def test_filter_semantics_follow_the_ecr_guide(pattern: str) -> None:
    matched = {n for n in NAMES if RepositoryFilter(pattern).matches(n)}
    assert matched == ECR_EXAMPLES[pattern]


def _config(scan_type: str, *rules: tuple[str, list[str]]) -> RegistryScanningConfiguration:
    return parse_configuration(
        {
            "scanType": scan_type,
            "rules": [
                {
                    "scanFrequency": f,
                    "repositoryFilters": [{"filter": x, "filterType": "WILDCARD"} for x in filters],
                }
                for f, filters in rules
            ],
        }
    )


def test_enhanced_frequencies() -> None:
    cfg = _config(
        "ENHANCED", ("CONTINUOUS_SCAN", ["prod-*"]), ("SCAN_ON_PUSH", ["dev-*", "prod-api"])
    )
    assert cfg.frequency_for("prod-api") is ScanFrequency.CONTINUOUS_SCAN  # continuous wins
    assert cfg.frequency_for("dev-api") is ScanFrequency.SCAN_ON_PUSH
    assert cfg.frequency_for("other-api") is ScanFrequency.MANUAL
    assert _config("ENHANCED").frequency_for("anything") is ScanFrequency.CONTINUOUS_SCAN
    preview = cfg.preview([("prod-api", False), ("other-api", True)])
    assert preview[0]["scanFrequency"] == "CONTINUOUS_SCAN" and preview[0]["scanned"]
    assert preview[0]["appliedScanFilters"] == [{"filter": "prod-*", "filterType": "WILDCARD"}]
    assert preview[1] == {
        "repositoryName": "other-api",
        "scanFrequency": "MANUAL",
        "scanned": False,
        "appliedScanFilters": [],
    }


def test_basic_frequencies_and_the_legacy_flag() -> None:
    cfg = _config("BASIC", ("SCAN_ON_PUSH", ["team"]))
    assert cfg.frequency_for("my-team-app") is ScanFrequency.SCAN_ON_PUSH
    assert cfg.frequency_for("other") is ScanFrequency.MANUAL
    assert cfg.frequency_for("other", scan_on_push_flag=True) is ScanFrequency.SCAN_ON_PUSH
    assert RegistryScanningConfiguration().frequency_for("x") is ScanFrequency.MANUAL


def test_round_trip_to_the_wire_shape() -> None:
    body = {
        "scanType": "ENHANCED",
        "rules": [
            {
                "scanFrequency": "CONTINUOUS_SCAN",
                "repositoryFilters": [{"filter": "a*", "filterType": "WILDCARD"}],
            }
        ],
    }
    assert parse_configuration(body).to_wire() == body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scanType": "FULL"}, "scanType"),
        ({"rules": "x"}, "rules"),
        (
            {
                "scanType": "ENHANCED",
                "rules": [{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": []}] * 3,
            },
            "rules",
        ),
        (
            {
                "scanType": "BASIC",
                "rules": [{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": []}],
            },
            "rules[0].scanFrequency",
        ),
        (
            {
                "scanType": "ENHANCED",
                "rules": [{"scanFrequency": "MANUAL", "repositoryFilters": []}],
            },
            "rules[0].scanFrequency",
        ),
        (
            {"scanType": "ENHANCED", "rules": [{"scanFrequency": "SCAN_ON_PUSH"}]},
            "rules[0].repositoryFilters",
        ),
        (
            {
                "scanType": "ENHANCED",
                "rules": [
                    {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "x"}] * 101}
                ],
            },
            "rules[0].repositoryFilters",
        ),
        (
            {
                "scanType": "ENHANCED",
                "rules": [
                    {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "Prod"}]}
                ],
            },
            "rules[0].repositoryFilters[0].filter",
        ),
        (
            {
                "scanType": "ENHANCED",
                "rules": [
                    {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "a" * 256}]}
                ],
            },
            "rules[0].repositoryFilters[0].filter",
        ),
        (
            {
                "scanType": "ENHANCED",
                "rules": [
                    {
                        "scanFrequency": "SCAN_ON_PUSH",
                        "repositoryFilters": [{"filter": "a", "filterType": "REGEX"}],
                    }
                ],
            },
            "rules[0].repositoryFilters[0].filterType",
        ),
    ],
)
def test_invalid_configurations(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ScanConfigInvalid) as err:
        parse_configuration(body)
    assert err.value.field == field
