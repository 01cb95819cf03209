"""Suppression rules as values: in force or not, which rule suppresses a finding, stored form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dockwatch.errors import InvalidInput
from dockwatch.findings.criteria import parse_criteria
from dockwatch.findings.suppression_rule import (
    RuleSuppressor,
    SuppressionRule,
    check_fields,
    from_record,
    rule_arn,
    to_record,
    valid_tags,
)
from dockwatch.model.identity import Tenant

TENANT = Tenant("123456789012", "us-east-1")
T0 = datetime(2031, 1, 1, tzinfo=UTC)


def _rule(rule_id: str, vuln: str, **extra: Any) -> SuppressionRule:
    values: dict[str, Any] = {
        "id": rule_id,
        "arn": rule_arn(TENANT, rule_id),
        "name": f"rule-{rule_id}",
        "action": "SUPPRESS",
        "criteria": parse_criteria({"vulnerabilityId": [{"comparison": "EQUALS", "value": vuln}]}),
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(extra)
    return SuppressionRule(**values)


def _finding(vuln: str) -> dict[str, Any]:
    return {"packageVulnerabilityDetails": {"vulnerabilityId": vuln}, "status": "ACTIVE"}


def test_the_arn_is_inspectors_filter_arn() -> None:
    assert rule_arn(TENANT, "abc") == (
        "arn:aws:inspector2:us-east-1:123456789012:owner/123456789012/filter/abc"
    )


def test_in_force_until_expiry_and_only_for_suppress() -> None:
    expiring = _rule("a", "CVE-1", expires_at=T0 + timedelta(days=1))
    assert expiring.in_force(T0)
    assert not expiring.in_force(T0 + timedelta(days=1))
    assert not _rule("b", "CVE-1", action="NONE").in_force(T0)
    assert expiring.to_wire(TENANT, T0 + timedelta(days=2))["state"] == "EXPIRED"
    assert _rule("b", "CVE-1", action="NONE").to_wire(TENANT, T0)["state"] == "SAVED_FILTER"


def test_the_first_matching_rule_in_order_suppresses() -> None:
    suppressor = RuleSuppressor([_rule("old", "CVE-1"), _rule("new", "CVE-1"), _rule("x", "CVE-2")])
    assert suppressor.rule_for(_finding("CVE-1")) == "old"
    assert suppressor.rule_for(_finding("CVE-2")) == "x"
    assert suppressor.rule_for(_finding("CVE-3")) is None


def test_the_stored_record_gives_the_rule_back() -> None:
    rule = _rule("a", "CVE-1", description="d", reason="r", tags={"team": "x"},
                 expires_at=T0 + timedelta(days=3))  # fmt: skip
    record = to_record(rule)
    assert record.criteria == {"vulnerabilityId": [{"comparison": "EQUALS", "value": "CVE-1"}]}
    again = from_record(record)
    assert again == rule


def test_field_checks() -> None:
    with pytest.raises(InvalidInput, match="unknown field 'x'"):
        check_fields({"x": 1})
    with pytest.raises(InvalidInput, match="at most 50"):
        valid_tags({str(i): "v" for i in range(51)})
    assert valid_tags(None) == {}
