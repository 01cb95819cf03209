"""Judging one image against a pull policy, and the verdict of one pull (pure: no I/O).

An image is judged on what is stored about it at the moment of the pull: its scan state and its
open findings. A finding counts when it is ACTIVE, or SUPPRESSED by a rule no longer in force
(a rule past its expiry stops exempting at once, not when the worker's next pass re-evaluates
it). A pull's verdict gathers the verdicts of every image the served manifest makes runnable:
the image itself, or each platform image of an index.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dockwatch.storage.pull_policy_repo import OpenFinding
from dockwatch.value_class import frozen

from .policy import SEVERITY_RANK, Allowance, PullPolicy

NOT_SCANNED = "NOT_SCANNED"
SCAN_STALE = "SCAN_STALE"
EXPLOIT_AVAILABLE = "EXPLOIT_AVAILABLE"
SEVERITY = "SEVERITY"
REASONS = (NOT_SCANNED, SCAN_STALE, EXPLOIT_AVAILABLE, SEVERITY)
"""Every refusal reason, most fundamental first (the first present labels the metric)."""

MAX_DETAIL_FINDINGS = 20
"""Findings named in a refusal's detail; `findingsTotal` gives the full count."""
MAX_DETAIL_IMAGES = 16
MAX_MESSAGE_FINDINGS = 5

SCANNED: frozenset[tuple[str, str, str]] = frozenset(
    {
        ("ENHANCED", "ACTIVE", "SUCCESSFUL"),
        ("ENHANCED", "INACTIVE", "NO_RESOURCES_FOUND"),
        ("BASIC", "COMPLETE", "SUCCESSFUL"),
    }
)
"""(scan type, status code, reason) of a complete, successful scan. Every other state (never
scanned, pending, in progress, SCAN_INCOMPLETE, INTERNAL_ERROR, UNSUPPORTED_OS,
UNSUPPORTED_MEDIA_TYPE, IMAGE_SIZE_EXCEEDED, SCAN_ELIGIBILITY_EXPIRED) is not scanned."""


@frozen
class ScanFacts:
    """An image's stored scan state."""

    scan_type: str
    status_code: str
    reason: str
    last_scanned_at: datetime | None

    @property
    def complete(self) -> bool:
        """Whether the scan read the whole image and matched it."""
        return (self.scan_type, self.status_code, self.reason) in SCANNED

    @property
    def label(self) -> str:
        """`statusCode/reason`, as coverage reports it."""
        return f"{self.status_code}/{self.reason}"


@frozen
class ImageFacts:
    """What a verdict reads about one image."""

    digest: str
    platform: str | None
    scan: ScanFacts | None
    findings: tuple[OpenFinding, ...]
    rules_in_force: frozenset[str]


@frozen
class ImageVerdict:
    """One image's verdict: refused when `reasons` is not empty."""

    digest: str
    platform: str | None
    reasons: tuple[str, ...]
    findings: tuple[OpenFinding, ...]
    """The counted findings that refuse it, most severe first."""
    scan_status: str

    @property
    def refused(self) -> bool:
        """Whether this image may not be pulled."""
        return bool(self.reasons)


def counts(finding: OpenFinding, rules_in_force: frozenset[str]) -> bool:
    """Whether a finding counts against an image: ACTIVE, or suppressed by a rule that is no
    longer in force."""
    if finding.status == "ACTIVE":
        return True
    return finding.status == "SUPPRESSED" and finding.suppressed_by not in rules_in_force


def judge_image(policy: PullPolicy, facts: ImageFacts, now: datetime) -> ImageVerdict:
    """The verdict of `policy` on one image at `now`."""
    scan = facts.scan
    label = "NONE" if scan is None else scan.label
    if not policy.enabled:
        return ImageVerdict(facts.digest, facts.platform, (), (), label)
    reasons: list[str] = []
    scanned = scan is not None and scan.complete
    if policy.require_scan and not scanned:
        reasons.append(NOT_SCANNED)
    max_age = policy.max_scan_age
    if max_age is not None and NOT_SCANNED not in reasons:
        last = None if scan is None or not scanned else scan.last_scanned_at
        if last is None or now - last > max_age:
            reasons.append(SCAN_STALE)
    open_findings = [f for f in facts.findings if counts(f, facts.rules_in_force)]
    blocking: list[OpenFinding] = []
    if policy.block_exploitable:
        exploitable = [f for f in open_findings if f.exploit_available == "YES"]
        if exploitable:
            reasons.append(EXPLOIT_AVAILABLE)
            blocking.extend(exploitable)
    if policy.severity_threshold is not None:
        bar = SEVERITY_RANK[policy.severity_threshold]
        severe = [f for f in open_findings if SEVERITY_RANK.get(f.severity, 0) >= bar]
        if severe:
            reasons.append(SEVERITY)
            blocking.extend(f for f in severe if f not in blocking)
    blocking.sort(key=lambda f: (-SEVERITY_RANK.get(f.severity, 0), f.vulnerability_id))
    return ImageVerdict(facts.digest, facts.platform, tuple(reasons), tuple(blocking), label)


@frozen
class PullVerdict:
    """The verdict on one manifest pull."""

    policy: PullPolicy
    repository: str
    digest: str
    """The digest of the manifest served (an image or an index)."""
    images: tuple[ImageVerdict, ...]
    """The verdict of every runnable image the manifest stands for."""
    allowance: Allowance | None = None
    """The allowance that lets the pull through, when one does."""

    @property
    def refused_images(self) -> tuple[ImageVerdict, ...]:
        """The images that refuse the pull (none when an allowance applies)."""
        if self.allowance is not None:
            return ()
        return tuple(v for v in self.images if v.refused)

    @property
    def refused(self) -> bool:
        """Whether the pull is refused: any image refused and no allowance."""
        return bool(self.refused_images)

    @property
    def reasons(self) -> tuple[str, ...]:
        """The reasons of every refused image, in `REASONS` order."""
        present = {r for v in self.refused_images for r in v.reasons}
        return tuple(r for r in REASONS if r in present)

    @property
    def primary_reason(self) -> str:
        """The most fundamental reason (the metric's label)."""
        return self.reasons[0] if self.reasons else ""

    def blocking(self) -> list[tuple[ImageVerdict, OpenFinding]]:
        """Every (image, finding) that refuses the pull, most severe first, each vulnerability
        once per image."""
        pairs = [(v, f) for v in self.refused_images for f in v.findings]
        pairs.sort(key=lambda p: (-SEVERITY_RANK.get(p[1].severity, 0), p[1].vulnerability_id))
        return pairs

    def message(self) -> str:
        """One line a client shows: which policy, why, and the first findings."""
        reasons = self.reasons
        parts: list[str] = []
        if NOT_SCANNED in reasons:
            states = sorted(
                {v.scan_status for v in self.refused_images if NOT_SCANNED in v.reasons}
            )
            parts.append(f"the image has no complete scan (scan status {', '.join(states)})")
        if SCAN_STALE in reasons:
            parts.append(f"the last scan is older than {self.policy.max_scan_age_hours} hours")
        pairs = self.blocking()
        if pairs:
            ids = _unique(f"{f.vulnerability_id} ({f.severity}{_in(f)})" for _, f in pairs)
            shown = ", ".join(ids[:MAX_MESSAGE_FINDINGS])
            more = (
                f" and {len(ids) - MAX_MESSAGE_FINDINGS} more"
                if len(ids) > MAX_MESSAGE_FINDINGS
                else ""
            )
            what = []
            if EXPLOIT_AVAILABLE in reasons:
                what.append("with a known exploit")
            if SEVERITY in reasons:
                what.append(f"at or above {self.policy.severity_threshold}")
            parts.append(f"{len(ids)} active findings {' or '.join(what)}: {shown}{more}")
        scope = "registry" if self.policy.scope == "REGISTRY" else "repository"
        return (
            f"pull of {self.repository}@{self.digest} refused by the {scope} pull policy: "
            + "; ".join(parts)
        )

    def detail(self) -> dict[str, Any]:
        """The OCI error's `detail`: the policy, the reasons, the refused images and the
        findings (bounded lists, with totals)."""
        pairs = self.blocking()
        refused = self.refused_images
        return {
            "policy": self.policy.to_wire(),
            "repositoryName": self.repository,
            "imageDigest": self.digest,
            "reasons": list(self.reasons),
            "images": [
                {
                    "imageDigest": v.digest,
                    "platform": v.platform,
                    "reasons": list(v.reasons),
                    "scanStatus": v.scan_status,
                }
                for v in refused[:MAX_DETAIL_IMAGES]
            ],
            "imagesTotal": len(refused),
            "findings": [
                {
                    "vulnerabilityId": f.vulnerability_id,
                    "severity": f.severity,
                    "packageName": f.package_name,
                    "exploitAvailable": f.exploit_available,
                    "imageDigest": v.digest,
                }
                for v, f in pairs[:MAX_DETAIL_FINDINGS]
            ],
            "findingsTotal": len(pairs),
        }


def _in(f: OpenFinding) -> str:
    return f" in {f.package_name}" if f.package_name else ""


def _unique(items: Sequence[str] | Any) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
