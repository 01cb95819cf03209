"""The verdict on one image and one pull, checked case by case against the policy's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dockwatch.model.digest import Digest
from dockwatch.pullpolicy.policy import Allowance, PullPolicy
from dockwatch.pullpolicy.verdict import (
    EXPLOIT_AVAILABLE,
    MAX_DETAIL_FINDINGS,
    NOT_SCANNED,
    SCAN_STALE,
    SEVERITY,
    ImageFacts,
    PullVerdict,
    ScanFacts,
    judge_image,
)
from dockwatch.storage.pull_policy_repo import OpenFinding

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
SCANNED = ScanFacts("ENHANCED", "ACTIVE", "SUCCESSFUL", NOW - timedelta(hours=1))
SEVERITIES = ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL")


def _finding(
    vid: str, severity: str, *, status: str = "ACTIVE", exploit: str = "NO",
    suppressed_by: str | None = None,
) -> OpenFinding:  # fmt: skip
    return OpenFinding(vid, severity, exploit, status, suppressed_by, f"pkg-{vid}")


def _facts(*findings: OpenFinding, scan: ScanFacts | None = SCANNED,
           rules: frozenset[str] = frozenset()) -> ImageFacts:  # fmt: skip
    return ImageFacts("sha256:" + "a" * 64, None, scan, findings, rules)


@pytest.mark.parametrize("threshold", SEVERITIES)
@pytest.mark.parametrize("severity", (*SEVERITIES, "UNTRIAGED"))
def test_a_finding_refuses_exactly_when_at_or_above_the_threshold(
    threshold: str, severity: str
) -> None:
    verdict = judge_image(
        PullPolicy("", severity_threshold=threshold), _facts(_finding("V", severity)), NOW
    )
    above = severity != "UNTRIAGED" and SEVERITIES.index(severity) >= SEVERITIES.index(threshold)
    assert verdict.refused is above
    assert verdict.reasons == ((SEVERITY,) if above else ())


def test_an_exploit_refuses_at_any_severity_only_when_asked() -> None:
    facts = _facts(_finding("V", "LOW", exploit="YES"))
    assert not judge_image(PullPolicy(""), facts, NOW).refused
    verdict = judge_image(PullPolicy("", block_exploitable=True), facts, NOW)
    assert verdict.reasons == (EXPLOIT_AVAILABLE,)


def test_suppressed_findings_count_only_when_their_rule_is_no_longer_in_force() -> None:
    policy = PullPolicy("", severity_threshold="LOW")
    muted = _finding("V", "CRITICAL", status="SUPPRESSED", suppressed_by="r1")
    assert not judge_image(policy, _facts(muted, rules=frozenset({"r1"})), NOW).refused
    assert judge_image(policy, _facts(muted, rules=frozenset({"r2"})), NOW).refused


@pytest.mark.parametrize(
    ("scan", "scanned"),
    [
        (None, False),
        (ScanFacts("ENHANCED", "ACTIVE", "PENDING_INITIAL_SCAN", None), False),
        (ScanFacts("ENHANCED", "ACTIVE", "SCAN_IN_PROGRESS", None), False),
        (ScanFacts("ENHANCED", "INACTIVE", "SCAN_INCOMPLETE", NOW), False),
        (ScanFacts("ENHANCED", "INACTIVE", "INTERNAL_ERROR", NOW), False),
        (ScanFacts("ENHANCED", "INACTIVE", "UNSUPPORTED_OS", NOW), False),
        (ScanFacts("ENHANCED", "INACTIVE", "IMAGE_SIZE_EXCEEDED", None), False),
        (ScanFacts("ENHANCED", "INACTIVE", "SCAN_ELIGIBILITY_EXPIRED", None), False),
        (ScanFacts("ENHANCED", "ACTIVE", "SUCCESSFUL", NOW), True),
        (ScanFacts("ENHANCED", "INACTIVE", "NO_RESOURCES_FOUND", NOW), True),
        (ScanFacts("BASIC", "COMPLETE", "SUCCESSFUL", NOW), True),
    ],
)
def test_only_a_complete_successful_scan_counts_as_scanned(
    scan: ScanFacts | None, scanned: bool
) -> None:
    verdict = judge_image(PullPolicy(""), _facts(scan=scan), NOW)
    assert verdict.reasons == (() if scanned else (NOT_SCANNED,))
    assert not judge_image(PullPolicy("", require_scan=False), _facts(scan=scan), NOW).refused


def test_scan_age() -> None:
    policy = PullPolicy("", max_scan_age_hours=2)
    at = NOW - timedelta(hours=2)
    fresh = ScanFacts("ENHANCED", "ACTIVE", "SUCCESSFUL", at)
    assert not judge_image(policy, _facts(scan=fresh), NOW).refused
    assert judge_image(policy, _facts(scan=fresh), NOW + timedelta(seconds=1)).reasons == (
        SCAN_STALE,
    )
    # without requireScan, an image never scanned has no age: stale
    unscanned = PullPolicy("", require_scan=False, max_scan_age_hours=2)
    assert judge_image(unscanned, _facts(scan=None), NOW).reasons == (SCAN_STALE,)


def test_a_disabled_policy_refuses_nothing() -> None:
    facts = _facts(_finding("V", "CRITICAL", exploit="YES"), scan=None)
    policy = PullPolicy("app", enabled=False, severity_threshold="LOW", block_exploitable=True)
    assert not judge_image(policy, facts, NOW).refused


def test_the_pull_verdict_names_findings_most_severe_first_and_bounds_the_list() -> None:
    policy = PullPolicy("", severity_threshold="LOW", block_exploitable=True)
    many = [_finding(f"CVE-{i:04d}", "LOW") for i in range(30)]
    facts = _facts(*many, _finding("CVE-9999", "CRITICAL", exploit="YES"))
    image = judge_image(policy, facts, NOW)
    verdict = PullVerdict(policy, "app", facts.digest, (image,))
    detail = verdict.detail()
    assert detail["reasons"] == [EXPLOIT_AVAILABLE, SEVERITY]
    assert detail["findingsTotal"] == 31
    assert len(detail["findings"]) == MAX_DETAIL_FINDINGS
    assert detail["findings"][0] == {
        "vulnerabilityId": "CVE-9999", "severity": "CRITICAL", "packageName": "pkg-CVE-9999",
        "exploitAvailable": "YES", "imageDigest": facts.digest,
    }  # fmt: skip
    message = verdict.message()
    assert message.startswith(f"pull of app@{facts.digest} refused by the registry pull policy")
    assert "31 active findings" in message and "CVE-9999 (CRITICAL in pkg-CVE-9999)" in message
    assert "and 26 more" in message


def test_an_allowance_clears_the_refusal() -> None:
    policy = PullPolicy("", severity_threshold="LOW")
    facts = _facts(_finding("V", "HIGH"))
    image = judge_image(policy, facts, NOW)
    until = NOW + timedelta(hours=1)
    allowance = Allowance("id", "app", Digest(facts.digest), "why", until, NOW)
    assert PullVerdict(policy, "app", facts.digest, (image,)).refused
    assert not PullVerdict(policy, "app", facts.digest, (image,), allowance).refused
