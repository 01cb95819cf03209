"""Inspector's `FilterCriteria` for findings as typed values, and the semantics of one key.

One `Criteria` serves ListFindings, aggregations, exports and suppression rules: the query
surface (`dockwatch.queries`) parses it from the wire, the in-memory matcher and the SQL
store evaluate it. The values are pure, so storage builds SQL from them without importing
anything above `model/`.

Semantics (Inspector documents the AND between keys; the rest follows Security Hub's documented
rule for its own string and map filters, which Inspector's console behaves like):
- different keys are ANDed;
- the EQUALS and PREFIX filters of one key are ORed, its NOT_EQUALS filters are ANDed, and the
  two groups are ANDed (`severity = HIGH or CRITICAL`, `repository != a and != b`);
- list-valued fields (`ecrImageTags`, `relatedVulnerabilities`): EQUALS/PREFIX hold when some
  element matches, NOT_EQUALS when no element equals the value (an untagged image is
  "not tagged latest");
- an absent value (no vendor severity, no EPSS score) fails EQUALS, PREFIX, date and number
  filters and passes NOT_EQUALS;
- the filters of one key of type date or number are ORed (each is a closed range);
- `vulnerablePackages`: a finding matches one PackageFilter when one single vulnerable package
  satisfies every field the filter names; several PackageFilters are ORed;
- comparisons are exact and case-sensitive (PREFIX is `str.startswith`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import field
from datetime import datetime
from enum import StrEnum
from typing import Any

from dockwatch.value_class import frozen

FINDING_TYPE = "PACKAGE_VULNERABILITY"
RESOURCE_TYPE = "AWS_ECR_CONTAINER_IMAGE"

SEVERITIES = ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL", "UNTRIAGED")
STATUSES = ("ACTIVE", "SUPPRESSED", "CLOSED")
FINDING_TYPES = ("NETWORK_REACHABILITY", "PACKAGE_VULNERABILITY", "CODE_VULNERABILITY")
RESOURCE_TYPES = (
    "AWS_EC2_INSTANCE", "AWS_ECR_CONTAINER_IMAGE", "AWS_ECR_REPOSITORY", "AWS_LAMBDA_FUNCTION",
    "CODE_REPOSITORY",
)  # fmt: skip
FIX_AVAILABLE = ("YES", "NO", "PARTIAL")
EXPLOIT_AVAILABLE = ("YES", "NO")

STRING_KEYS = (
    "findingArn", "awsAccountId", "findingType", "severity", "findingStatus", "title",
    "resourceType", "resourceId", "ecrImageRegistry", "ecrImageRepositoryName", "ecrImageTags",
    "ecrImageHash", "vulnerabilityId", "vulnerabilitySource", "vendorSeverity",
    "relatedVulnerabilities", "fixAvailable", "exploitAvailable",
)  # fmt: skip
DATE_KEYS = ("firstObservedAt", "lastObservedAt", "updatedAt", "ecrImagePushedAt")
NUMBER_KEYS = ("inspectorScore", "epssScore")
PACKAGE_KEY = "vulnerablePackages"
KEYS = (*STRING_KEYS, *DATE_KEYS, *NUMBER_KEYS, PACKAGE_KEY)
"""Every FilterCriteria key dockwatch evaluates."""

PACKAGE_FIELDS = {
    "name": "name", "version": "version", "release": "release", "architecture": "architecture",
    "sourceLayerHash": "source_layer_hash", "filePath": "file_path",
}  # fmt: skip
"""PackageFilter's string fields: wire name -> attribute."""


class Comparison(StrEnum):
    """`StringFilter.comparison`."""

    EQUALS = "EQUALS"
    PREFIX = "PREFIX"
    NOT_EQUALS = "NOT_EQUALS"


def str_or_none(value: Any) -> str | None:
    """A document value as the string filters compare it (None: absent)."""
    return None if value is None else str(value)


@frozen
class StringFilter:
    """One `StringFilter`."""

    comparison: Comparison
    value: str

    def test(self, actual: str | None) -> bool:
        """This filter on one value (None: absent)."""
        if actual is None:
            return self.comparison is Comparison.NOT_EQUALS
        if self.comparison is Comparison.EQUALS:
            return actual == self.value
        if self.comparison is Comparison.PREFIX:
            return actual.startswith(self.value)
        return actual != self.value


@frozen
class DateFilter:
    """One `DateFilter`: a closed range, either end optional (UTC)."""

    start: datetime | None = None
    end: datetime | None = None

    def test(self, actual: datetime | None) -> bool:
        """Whether `actual` lies in the range (None never does)."""
        if actual is None:
            return False
        return (self.start is None or actual >= self.start) and (
            self.end is None or actual <= self.end
        )


@frozen
class NumberFilter:
    """One `NumberFilter`: a closed range, either end optional."""

    lower: float | None = None
    upper: float | None = None

    def test(self, actual: float | None) -> bool:
        """Whether `actual` lies in the range (None never does)."""
        if actual is None:
            return False
        return (self.lower is None or actual >= self.lower) and (
            self.upper is None or actual <= self.upper
        )


@frozen
class PackageFilter:
    """One `PackageFilter`: every field given must hold for one and the same package."""

    name: StringFilter | None = None
    version: StringFilter | None = None
    epoch: NumberFilter | None = None
    release: StringFilter | None = None
    architecture: StringFilter | None = None
    source_layer_hash: StringFilter | None = None
    file_path: StringFilter | None = None

    def test(self, package: Mapping[str, Any]) -> bool:
        """Whether one Inspector `VulnerablePackage` satisfies the filter."""
        for f, key in (
            (self.name, "name"), (self.version, "version"), (self.release, "release"),
            (self.architecture, "arch"), (self.source_layer_hash, "sourceLayerHash"),
            (self.file_path, "filePath"),
        ):  # fmt: skip
            if f is not None and not f.test(str_or_none(package.get(key))):
                return False
        if self.epoch is not None:
            epoch = package.get("epoch")
            if not self.epoch.test(None if epoch is None else float(epoch)):
                return False
        return True


def strings_hold(filters: Sequence[StringFilter], actual: Any) -> bool:
    """One key's string filters on one value or list of values (the rules above)."""
    positive = [f for f in filters if f.comparison is not Comparison.NOT_EQUALS]
    negative = [f for f in filters if f.comparison is Comparison.NOT_EQUALS]
    if isinstance(actual, list):
        values = [str(v) for v in actual]
        if positive and not any(f.test(v) for f in positive for v in values):
            return False
        return all(f.value not in values for f in negative)
    value = str_or_none(actual)
    if positive and not any(f.test(value) for f in positive):
        return False
    return all(f.test(value) for f in negative)


@frozen
class Criteria:
    """A parsed, validated FilterCriteria (an empty one matches every finding)."""

    strings: Mapping[str, tuple[StringFilter, ...]] = field(default_factory=dict)
    dates: Mapping[str, tuple[DateFilter, ...]] = field(default_factory=dict)
    numbers: Mapping[str, tuple[NumberFilter, ...]] = field(default_factory=dict)
    packages: tuple[PackageFilter, ...] = ()

    def is_empty(self) -> bool:
        """True when nothing is filtered."""
        return not (self.strings or self.dates or self.numbers or self.packages)

    def to_wire(self) -> dict[str, Any]:
        """The FilterCriteria JSON (dates as ISO 8601); the query surface reads it back."""
        out: dict[str, Any] = {}
        for key, strings in self.strings.items():
            out[key] = [string_wire(f) for f in strings]
        for key, dates in self.dates.items():
            out[key] = [date_wire(f) for f in dates]
        for key, numbers in self.numbers.items():
            out[key] = [_number_wire(f) for f in numbers]
        if self.packages:
            out[PACKAGE_KEY] = [_package_wire(p) for p in self.packages]
        return out


def string_wire(f: StringFilter) -> dict[str, Any]:
    """A StringFilter's JSON."""
    return {"comparison": f.comparison.value, "value": f.value}


def date_wire(f: DateFilter) -> dict[str, Any]:
    """A DateFilter's JSON (ISO 8601 ends)."""
    out: dict[str, Any] = {}
    if f.start is not None:
        out["startInclusive"] = f.start.isoformat()
    if f.end is not None:
        out["endInclusive"] = f.end.isoformat()
    return out


def _number_wire(f: NumberFilter) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if f.lower is not None:
        out["lowerInclusive"] = f.lower
    if f.upper is not None:
        out["upperInclusive"] = f.upper
    return out


def _package_wire(p: PackageFilter) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for wire, attr in PACKAGE_FIELDS.items():
        f = getattr(p, attr)
        if f is not None:
            out[wire] = string_wire(f)
    if p.epoch is not None:
        out["epoch"] = _number_wire(p.epoch)
    return out
