"""Policy and allowance bodies: what is accepted, and the error that names what is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dockwatch.errors import InvalidInput
from dockwatch.pullpolicy.policy import parse_allowance, parse_policy

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
DIGEST = "sha256:" + "b" * 64


def test_defaults_require_a_scan_and_nothing_else() -> None:
    policy = parse_policy("", {})
    assert policy.document() == {
        "enabled": True, "severityThreshold": None, "blockExploitable": False,
        "requireScan": True, "maxScanAgeHours": None,
    }  # fmt: skip
    assert policy.scope == "REGISTRY"
    assert parse_policy("app", {}).to_wire()["repositoryName"] == "app"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"severityThreshold": "SEVERE"}, "severityThreshold must be one of"),
        ({"severityThreshold": "UNTRIAGED"}, "severityThreshold must be one of"),
        ({"maxScanAgeHours": 0}, "maxScanAgeHours"),
        ({"maxScanAgeHours": 1.5}, "maxScanAgeHours"),
        ({"maxScanAgeHours": True}, "maxScanAgeHours"),
        ({"maxScanAgeHours": 10**9}, "maxScanAgeHours"),
        ({"requireScan": "yes"}, "requireScan must be true or false"),
        ({"bypass": True}, "unknown field 'bypass'"),
        ([], "JSON object"),
    ],
)
def test_bad_policies_are_refused_by_name(body: Any, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        parse_policy("", body)


def _allowance(**change: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "repositoryName": "team/app",
        "imageDigest": DIGEST,
        "reason": "rollback target",
        "expiresAt": (NOW + timedelta(days=1)).isoformat(),
    }
    body.update(change)
    return {k: v for k, v in body.items() if v is not ...}


def test_an_allowance_needs_every_field_and_an_expiry_within_a_year() -> None:
    allowance = parse_allowance(_allowance(), "id1", NOW)
    assert allowance.expires_at == NOW + timedelta(days=1)
    assert allowance.in_force(NOW) and not allowance.in_force(NOW + timedelta(days=1))
    epoch = parse_allowance(_allowance(expiresAt=(NOW + timedelta(hours=1)).timestamp()), "i", NOW)
    assert epoch.expires_at == NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"reason": ...}, "reason is required"),
        ({"expiresAt": ...}, "expiresAt is required"),
        ({"reason": "  "}, "reason must be a non-empty string"),
        ({"reason": "x" * 2000}, "at most 1024"),
        ({"expiresAt": (NOW - timedelta(seconds=1)).isoformat()}, "in the future"),
        ({"expiresAt": (NOW + timedelta(days=400)).isoformat()}, "within 366 days"),
        ({"expiresAt": "tomorrow"}, "ISO 8601"),
        ({"imageDigest": "sha256:abc"}, "digest"),
        ({"repositoryName": "Bad Name"}, "invalid repository name"),
        ({"scope": "all"}, "unknown field 'scope'"),
    ],
)
def test_bad_allowances_are_refused_by_name(change: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        parse_allowance(_allowance(**change), "id", NOW)
