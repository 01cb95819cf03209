"""The finding lifecycle: open, close, reopen within 7 days, new finding after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dockwatch.findings.lifecycle import (
    FindingStatus,
    StoredFinding,
    finding_id,
    reconcile,
)
from dockwatch.model.identity import ImageResource, Tenant

R = ImageResource(Tenant("000000000000", "us-east-1"), "prod-api", "sha256:" + "a" * 64)
NOW = datetime(2026, 11, 26, tzinfo=UTC)


def stored(
    vuln: str, status: FindingStatus, closed_days_ago: float | None = None, generation: int = 0
) -> StoredFinding:
    closed = None if closed_days_ago is None else NOW - timedelta(days=closed_days_ago)
    return StoredFinding(finding_id(R, vuln, generation), vuln, status, closed, generation)


def test_new_matches_open_and_missing_ones_close() -> None:
    old = {
        "CVE-1": stored("CVE-1", FindingStatus.ACTIVE),
        "CVE-2": stored("CVE-2", FindingStatus.SUPPRESSED),
    }
    out = reconcile(R, old, ["CVE-2", "CVE-3"], NOW)
    assert out.opened == [(finding_id(R, "CVE-3"), "CVE-3", 0)]
    assert out.closed == [old["CVE-1"].id]
    assert out.unchanged == [old["CVE-2"].id]


def test_reopen_within_seven_days_keeps_the_id() -> None:
    recent = {"CVE-1": stored("CVE-1", FindingStatus.CLOSED, closed_days_ago=6.9)}
    assert reconcile(R, recent, ["CVE-1"], NOW).reopened == [recent["CVE-1"].id]
    late = {"CVE-1": stored("CVE-1", FindingStatus.CLOSED, closed_days_ago=7.1)}
    out = reconcile(R, late, ["CVE-1"], NOW)
    assert out.reopened == []
    ((new_id, vuln, generation),) = out.opened
    assert (vuln, generation) == ("CVE-1", 1) and new_id != late["CVE-1"].id


def test_ids_are_per_image_resource() -> None:
    other_repo = ImageResource(R.tenant, "dev-api", R.digest)
    assert finding_id(R, "CVE-1") != finding_id(other_repo, "CVE-1")
    assert finding_id(R, "CVE-1") == finding_id(
        ImageResource(Tenant(R.tenant.account_id, R.tenant.region), R.repository, R.digest), "CVE-1"
    )
