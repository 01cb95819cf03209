"""`--ignore-unfixed` and suppression on Inspector-shaped findings."""

from __future__ import annotations

import json
from typing import Any

from dockwatch.reports.findings import cyclonedx
from dockwatch.reports.findings.filters import derived_arn, drop_unfixed, suppress
from dockwatch.reports.findings.ignore import IgnoreRule, PackageSelector

from .sample import context, expected_pairs, finding, findings, package


def _pairs(items: list[dict[str, Any]]) -> list[tuple[str, str, str, str | None, str, str]]:
    return expected_pairs(items)


def test_drop_unfixed_keeps_fixed_packages_only() -> None:
    items = findings()
    kept = drop_unfixed(items)
    assert _pairs(kept) == [p for p in expected_pairs(items) if p[3] is not None]
    first = next(
        f for f in kept if f["packageVulnerabilityDetails"]["vulnerabilityId"] == "CVE-2024-0001"
    )
    assert first["fixAvailable"] == "YES"  # was PARTIAL: the unfixed urllib3 went
    assert first["title"] == "CVE-2024-0001 - requests"
    assert [e["package"] for e in first["evidence"]] == ["python/requests@2.19.0"]
    assert not any(
        f["packageVulnerabilityDetails"]["vulnerabilityId"] == "PYSEC-2024-5" for f in kept
    )
    assert items[0]["fixAvailable"] == "PARTIAL"  # the input is not changed


def _rule(vuln: str, *pkgs: str, reason: str = "because") -> IgnoreRule:
    return IgnoreRule(
        frozenset({vuln.upper()}), tuple(PackageSelector.parse(p) for p in pkgs), reason, "test"
    )


def test_whole_finding_suppressed_keeps_its_arn() -> None:
    items = findings()
    out = suppress(items, [_rule("CVE-2024-0001")])
    target = [
        f for f in out if f["packageVulnerabilityDetails"]["vulnerabilityId"] == "CVE-2024-0001"
    ]
    assert len(target) == 1
    assert target[0]["status"] == "SUPPRESSED"
    assert target[0]["findingArn"] == items[0]["findingArn"]
    assert target[0]["suppression"]["reason"] == "because"
    assert len(out) == len(items)


def test_related_ids_match_too() -> None:
    out = suppress(findings(), [_rule("ghsa-xxxx-yyyy-zzzz")])
    assert out[0]["status"] == "SUPPRESSED"


def test_package_scoped_rule_splits_a_finding() -> None:
    items = findings()
    out = suppress(items, [_rule("CVE-2024-0001", "urllib3", reason="not used")])
    parts = [
        f for f in out if f["packageVulnerabilityDetails"]["vulnerabilityId"] == "CVE-2024-0001"
    ]
    by_status = {f["status"]: f for f in parts}
    assert set(by_status) == {"ACTIVE", "SUPPRESSED"}
    active, suppressed = by_status["ACTIVE"], by_status["SUPPRESSED"]
    assert [p["name"] for p in active["packageVulnerabilityDetails"]["vulnerablePackages"]] == [
        "requests"
    ]
    assert [p["name"] for p in suppressed["packageVulnerabilityDetails"]["vulnerablePackages"]] == [
        "urllib3"
    ]
    assert active["findingArn"] == items[0]["findingArn"]
    assert suppressed["findingArn"] == derived_arn(items[0]["findingArn"], "suppressed")
    assert suppressed["findingArn"].rsplit("/", 1)[0] == items[0]["findingArn"].rsplit("/", 1)[0]
    assert suppressed["fixAvailable"] == "NO" and active["fixAvailable"] == "YES"
    # every (vulnerability, package) pair is still there exactly once
    assert sorted((p[0], p[1]) for p in _pairs(out)) == sorted(
        (p[0], p[1]) for p in expected_pairs(items)
    )


def test_rules_do_not_touch_closed_findings_or_other_packages() -> None:
    closed = finding("CVE-9", "HIGH", [package("a", "1", "2")], status="CLOSED")
    active = finding("CVE-9", "HIGH", [package("b", "1", "2")])
    out = suppress([closed, active], [_rule("CVE-9", "a")])
    assert [f["status"] for f in out] == ["CLOSED", "ACTIVE"]


def test_suppressed_parts_export_as_vex() -> None:
    out = suppress(findings(), [_rule("CVE-2024-0001", "urllib3", reason="not used")])
    doc = json.loads(cyclonedx.render(out, context()))
    states = {
        (v["id"], v["analysis"]["state"])
        for v in doc["vulnerabilities"]
        if v["id"] == "CVE-2024-0001"
    }
    assert states == {("CVE-2024-0001", "in_triage"), ("CVE-2024-0001", "not_affected")}
