"""A pull policy and a per-image allowance: values, their wire form, and their validation.

A policy governs the whole registry (stored under `REGISTRY_SCOPE`) or one repository; the
repository's own policy, when it has one, replaces the registry-wide one for that repository
(`enabled: false` exempts a repository explicitly). A policy refuses an image when:

- `requireScan` (default true) and the image has no complete, successful scan;
- `maxScanAgeHours` is set and the image's last scan is older;
- `blockExploitable` and an ACTIVE finding has a known exploit;
- `severityThreshold` is set and an ACTIVE finding is at or above it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from dockwatch.errors import InvalidInput
from dockwatch.findings.criteria import parse_time
from dockwatch.model.digest import Digest, parse_digest
from dockwatch.model.times import iso
from dockwatch.storage.pull_policy_repo import REGISTRY_SCOPE, AllowanceRecord, PolicyRecord
from dockwatch.value_class import frozen

SEVERITY_RANK: dict[str, int] = {
    "INFORMATIONAL": 1,
    "LOW": 2,
    "MEDIUM": 3,
    "HIGH": 4,
    "CRITICAL": 5,
}
"""Inspector severities in order; UNTRIAGED has no rank and never reaches a threshold."""

MAX_SCAN_AGE_HOURS = 24 * 366
MAX_ALLOWANCE_DAYS = 366
"""An allowance must expire, and within a year: none is granted forever."""
MAX_REASON = 1024

POLICY_FIELDS = frozenset(
    {"enabled", "severityThreshold", "blockExploitable", "requireScan", "maxScanAgeHours"}
)
ALLOWANCE_FIELDS = frozenset({"repositoryName", "imageDigest", "reason", "expiresAt"})

_NAME = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)


@frozen
class PullPolicy:
    """What a registry or a repository refuses to serve."""

    repository: str
    """`REGISTRY_SCOPE` ("") for the registry-wide policy, else the repository name."""
    enabled: bool = True
    severity_threshold: str | None = None
    """Refuse ACTIVE findings at or above this severity (None: no severity criterion)."""
    block_exploitable: bool = False
    """Refuse ACTIVE findings with a known exploit (`exploitAvailable` YES), of any severity."""
    require_scan: bool = True
    """Refuse images without a complete, successful scan."""
    max_scan_age_hours: int | None = None
    """Refuse images whose last scan is older than this (None: any age)."""
    updated_at: datetime | None = None

    @property
    def scope(self) -> str:
        """`REGISTRY` or `REPOSITORY`."""
        return "REGISTRY" if self.repository == REGISTRY_SCOPE else "REPOSITORY"

    @property
    def max_scan_age(self) -> timedelta | None:
        """`max_scan_age_hours` as a duration."""
        hours = self.max_scan_age_hours
        return None if hours is None else timedelta(hours=hours)

    def document(self) -> dict[str, Any]:
        """The stored (and wire) fields."""
        return {
            "enabled": self.enabled,
            "severityThreshold": self.severity_threshold,
            "blockExploitable": self.block_exploitable,
            "requireScan": self.require_scan,
            "maxScanAgeHours": self.max_scan_age_hours,
        }

    def to_wire(self) -> dict[str, Any]:
        """The API answer."""
        body: dict[str, Any] = {"scope": self.scope, **self.document()}
        if self.repository != REGISTRY_SCOPE:
            body["repositoryName"] = self.repository
        body["updatedAt"] = iso(self.updated_at)
        return body


def from_record(record: PolicyRecord) -> PullPolicy:
    """The policy a stored document holds (validated when it was stored)."""
    return parse_policy(record.repository, record.document, updated_at=record.updated_at)


def parse_policy(repository: str, body: Any, *, updated_at: datetime | None = None) -> PullPolicy:
    """A policy from a request body; InvalidInput naming the first bad field."""
    if not isinstance(body, Mapping):
        raise InvalidInput("the body must be a JSON object")
    unknown = sorted(set(body) - POLICY_FIELDS)
    if unknown:
        expected = ", ".join(sorted(POLICY_FIELDS))
        raise InvalidInput(f"unknown field {unknown[0]!r} (expected: {expected})")
    threshold = body.get("severityThreshold")
    if threshold is not None and threshold not in SEVERITY_RANK:
        raise InvalidInput(f"severityThreshold must be one of {', '.join(SEVERITY_RANK)}")
    age = body.get("maxScanAgeHours")
    if isinstance(age, float) and age.is_integer():
        age = int(age)  # JSON's 24.0 is the integer 24
    if age is not None and (
        isinstance(age, bool) or not isinstance(age, int) or not 1 <= age <= MAX_SCAN_AGE_HOURS
    ):
        raise InvalidInput(f"maxScanAgeHours must be a whole number from 1 to {MAX_SCAN_AGE_HOURS}")
    return PullPolicy(
        repository=repository,
        enabled=_flag(body, "enabled", True),
        severity_threshold=threshold,
        block_exploitable=_flag(body, "blockExploitable", False),
        require_scan=_flag(body, "requireScan", True),
        max_scan_age_hours=age,
        updated_at=updated_at,
    )


def _flag(body: Mapping[str, Any], name: str, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be true or false")
    return value


def check_repository_name(name: str) -> str:
    """`name` when it follows the distribution name grammar, else InvalidInput."""
    if not isinstance(name, str) or len(name) > 255 or _NAME.fullmatch(name) is None:
        raise InvalidInput(f"invalid repository name {name!r}")
    return name


@frozen
class Allowance:
    """One image let through every pull policy until it expires, and why."""

    id: str
    repository: str
    digest: Digest
    reason: str
    expires_at: datetime
    created_at: datetime

    def in_force(self, now: datetime) -> bool:
        """Whether the allowance still lets the image through."""
        return now < self.expires_at

    def to_wire(self, now: datetime) -> dict[str, Any]:
        """The API answer (`expired` says whether it still applies)."""
        return {
            "allowanceId": self.id,
            "repositoryName": self.repository,
            "imageDigest": self.digest,
            "reason": self.reason,
            "expiresAt": iso(self.expires_at),
            "createdAt": iso(self.created_at),
            "expired": not self.in_force(now),
        }

    def record(self) -> AllowanceRecord:
        """The stored form."""
        return AllowanceRecord(
            self.id, self.repository, self.digest, self.reason, self.expires_at, self.created_at
        )


def allowance_from_record(r: AllowanceRecord) -> Allowance:
    """The allowance a stored row holds."""
    return Allowance(r.id, r.repository, Digest(r.digest), r.reason, r.expires_at, r.created_at)


def parse_allowance(body: Any, allowance_id: str, now: datetime) -> Allowance:
    """An allowance from a request body: every field required, the expiry in the future and
    within `MAX_ALLOWANCE_DAYS`."""
    if not isinstance(body, Mapping):
        raise InvalidInput("the body must be a JSON object")
    unknown = sorted(set(body) - ALLOWANCE_FIELDS)
    if unknown:
        expected = ", ".join(sorted(ALLOWANCE_FIELDS))
        raise InvalidInput(f"unknown field {unknown[0]!r} (expected: {expected})")
    for name in sorted(ALLOWANCE_FIELDS):
        if body.get(name) is None:
            raise InvalidInput(f"{name} is required")
    repository = check_repository_name(body["repositoryName"])
    if not isinstance(body["imageDigest"], str):
        raise InvalidInput("imageDigest must be a string")
    digest = parse_digest(body["imageDigest"])
    reason = body["reason"]
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("reason must be a non-empty string")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"reason must be at most {MAX_REASON} characters")
    expires_at = parse_time("expiresAt", body["expiresAt"])
    if expires_at <= now:
        raise InvalidInput("expiresAt must be in the future")
    if expires_at > now + timedelta(days=MAX_ALLOWANCE_DAYS):
        raise InvalidInput(f"expiresAt must be within {MAX_ALLOWANCE_DAYS} days")
    return Allowance(allowance_id, repository, digest, reason.strip(), expires_at, now)
