"""Registry scanning configuration with ECR's semantics and limits.

`scanType` BASIC (the default) or ENHANCED, and up to two rules, each a `scanFrequency`
(SCAN_ON_PUSH, CONTINUOUS_SCAN, MANUAL) with up to 100 WILDCARD `repositoryFilters`. A filter
without `*` matches names that contain it; with `*` it is an anchored glob where `*` is any run
of characters. Under ENHANCED, CONTINUOUS_SCAN wins where both rules match, no rules at all
means every repository is scanned continuously, and an unmatched repository is not scanned
(frequency MANUAL). Under BASIC only SCAN_ON_PUSH rules apply, plus the per-repository
`scanOnPush` flag. Everything is validated as ECR's model constrains it, with clear errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from dockwatch.errors import InvalidInput
from dockwatch.value_class import frozen

FILTER_PATTERN = re.compile(r"^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$")
MAX_RULES = 2
MAX_FILTERS = 100
MAX_FILTER_LENGTH = 255


class ScanType(StrEnum):
    """Registry scan type."""

    BASIC = "BASIC"
    ENHANCED = "ENHANCED"


class ScanFrequency(StrEnum):
    """How a repository's images are scanned."""

    SCAN_ON_PUSH = "SCAN_ON_PUSH"
    CONTINUOUS_SCAN = "CONTINUOUS_SCAN"
    MANUAL = "MANUAL"


class ScanConfigInvalid(InvalidInput):
    """A scanning configuration breaks ECR's constraints; `field` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


@frozen
class RepositoryFilter:
    """One WILDCARD filter."""

    filter: str

    def matches(self, repository: str) -> bool:
        """ECR's rule: substring without `*`, anchored glob with it."""
        if "*" not in self.filter:
            return self.filter in repository
        pattern = "^" + ".*".join(re.escape(part) for part in self.filter.split("*")) + "$"
        return re.match(pattern, repository) is not None


@frozen
class ScanningRule:
    """One rule: a frequency and the repositories it applies to."""

    scan_frequency: ScanFrequency
    filters: tuple[RepositoryFilter, ...]

    def matches(self, repository: str) -> bool:
        """True when any filter matches."""
        return any(f.matches(repository) for f in self.filters)


@frozen
class RegistryScanningConfiguration:
    """The registry's scanning configuration."""

    scan_type: ScanType = ScanType.BASIC
    rules: tuple[ScanningRule, ...] = ()

    def frequency_for(self, repository: str, scan_on_push_flag: bool = False) -> ScanFrequency:
        """The scan frequency a repository gets under this configuration."""
        if self.scan_type is ScanType.ENHANCED:
            if not self.rules:
                return ScanFrequency.CONTINUOUS_SCAN
            matched = {r.scan_frequency for r in self.rules if r.matches(repository)}
            for frequency in (ScanFrequency.CONTINUOUS_SCAN, ScanFrequency.SCAN_ON_PUSH):
                if frequency in matched:
                    return frequency
            return ScanFrequency.MANUAL
        on_push = any(
            r.scan_frequency is ScanFrequency.SCAN_ON_PUSH and r.matches(repository)
            for r in self.rules
        )
        return ScanFrequency.SCAN_ON_PUSH if on_push or scan_on_push_flag else ScanFrequency.MANUAL

    def applied_filters(self, repository: str) -> list[RepositoryFilter]:
        """The filters that decided `repository`'s frequency (ECR's `appliedScanFilters`)."""
        frequency = self.frequency_for(repository)
        return [
            f
            for r in self.rules
            if r.scan_frequency is frequency
            for f in r.filters
            if f.matches(repository)
        ]

    def preview(self, repositories: Iterable[tuple[str, bool]]) -> list[dict[str, Any]]:
        """For each (repository, legacy scan-on-push flag): how it would be scanned."""
        out = []
        for name, flag in repositories:
            frequency = self.frequency_for(name, flag)
            scanned = frequency is not ScanFrequency.MANUAL
            out.append(
                {
                    "repositoryName": name,
                    "scanFrequency": frequency.value,
                    "scanned": scanned,
                    "appliedScanFilters": [
                        {"filter": f.filter, "filterType": "WILDCARD"}
                        for f in self.applied_filters(name)
                    ],
                }
            )
        return out

    def to_wire(self) -> dict[str, Any]:
        """ECR's `registryScanningConfiguration` shape."""
        return {
            "scanType": self.scan_type.value,
            "rules": [
                {
                    "scanFrequency": r.scan_frequency.value,
                    "repositoryFilters": [
                        {"filter": f.filter, "filterType": "WILDCARD"} for f in r.filters
                    ],
                }
                for r in self.rules
            ],
        }


def _enum(cls: type[StrEnum], value: object, field: str) -> Any:
    if not isinstance(value, str) or value not in cls.__members__:
        allowed = "|".join(cls.__members__)
        raise ScanConfigInvalid(field, f"must be one of {allowed}, got {value!r}")
    return cls(value)


def parse_configuration(body: Mapping[str, Any]) -> RegistryScanningConfiguration:
    """Validate an ECR-shaped `{scanType, rules}` document."""
    if not isinstance(body, Mapping):
        raise ScanConfigInvalid("body", "must be an object")
    scan_type = _enum(ScanType, body.get("scanType", "BASIC"), "scanType")
    raw_rules = body.get("rules", [])
    if not isinstance(raw_rules, list):
        raise ScanConfigInvalid("rules", "must be a list")
    if len(raw_rules) > MAX_RULES:
        raise ScanConfigInvalid("rules", f"at most {MAX_RULES} rules, got {len(raw_rules)}")
    rules: list[ScanningRule] = []
    for i, raw in enumerate(raw_rules):
        where = f"rules[{i}]"
        if not isinstance(raw, Mapping):
            raise ScanConfigInvalid(where, "must be an object")
        frequency = _enum(ScanFrequency, raw.get("scanFrequency"), f"{where}.scanFrequency")
        if scan_type is ScanType.BASIC and frequency is not ScanFrequency.SCAN_ON_PUSH:
            raise ScanConfigInvalid(
                f"{where}.scanFrequency", "BASIC scanning supports only SCAN_ON_PUSH rules"
            )
        if scan_type is ScanType.ENHANCED and frequency is ScanFrequency.MANUAL:
            raise ScanConfigInvalid(
                f"{where}.scanFrequency",
                "ENHANCED scanning supports CONTINUOUS_SCAN and SCAN_ON_PUSH rules",
            )
        raw_filters = raw.get("repositoryFilters")
        if not isinstance(raw_filters, list):
            raise ScanConfigInvalid(f"{where}.repositoryFilters", "is required and must be a list")
        if len(raw_filters) > MAX_FILTERS:
            raise ScanConfigInvalid(
                f"{where}.repositoryFilters",
                f"at most {MAX_FILTERS} filters, got {len(raw_filters)}",
            )
        filters = []
        for j, rf in enumerate(raw_filters):
            fwhere = f"{where}.repositoryFilters[{j}]"
            if not isinstance(rf, Mapping):
                raise ScanConfigInvalid(fwhere, "must be an object")
            if rf.get("filterType", "WILDCARD") != "WILDCARD":
                raise ScanConfigInvalid(f"{fwhere}.filterType", "must be WILDCARD")
            value = rf.get("filter")
            if not isinstance(value, str) or not 1 <= len(value) <= MAX_FILTER_LENGTH:
                raise ScanConfigInvalid(
                    f"{fwhere}.filter", f"must be a string of 1 to {MAX_FILTER_LENGTH} characters"
                )
            if not FILTER_PATTERN.match(value):
                raise ScanConfigInvalid(
                    f"{fwhere}.filter", f"must match {FILTER_PATTERN.pattern}, got {value!r}"
                )
            filters.append(RepositoryFilter(value))
        rules.append(ScanningRule(frequency, tuple(filters)))
    return RegistryScanningConfiguration(scan_type, tuple(rules))
