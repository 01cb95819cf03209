"""Inspector's `FilterCriteria` for findings: parsing, validation, SQL and an in-memory matcher.

One parsed `Criteria` serves ListFindings, aggregations, exports and suppression rules.
`sql_filter` and `matches` say the same thing (a property test holds them to it): the SQL form
selects rows of `findings` with index-friendly predicates, `matches` evaluates an Inspector-shaped
finding (suppression rules run it on findings that are not stored yet).

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

Query-string form (`criteria_from_query`), for `GET` listings: a parameter per string key
(`?severity=HIGH&severity=CRITICAL&ecrImageRepositoryName=prod-*&findingStatus=!CLOSED`): a
trailing `*` makes a PREFIX filter, a leading `!` a NOT_EQUALS one (`\\*`, `\\!` for the literal
characters); dates as `<key>From` / `<key>To` (ISO 8601 or epoch seconds), numbers as
`<key>Min` / `<key>Max`; packages as `packageName`, `packageVersion`, `packageRelease`,
`packageArchitecture`, `packageSourceLayerHash`, `packageFilePath`, `packageEpochMin/Max` (one
package filter; one of them may repeat, giving one package filter per value); or the whole
criteria as JSON in `filterCriteria` (not mixed with the others).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement

from dockwatch.errors import InvalidInput

MAX_FILTERS = 10
"""Filters per key (`StringFilterList` and the others: 1..10 in Inspector's model)."""
MAX_VALUE = 1024

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


class Comparison(StrEnum):
    """`StringFilter.comparison`."""

    EQUALS = "EQUALS"
    PREFIX = "PREFIX"
    NOT_EQUALS = "NOT_EQUALS"


class InvalidCriteria(InvalidInput):
    """A filter criteria document (or query parameter) that cannot be used."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        """Where the problem is, e.g. `filterCriteria.severity[1].comparison`."""
        self.reason = message


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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
            if f is not None and not f.test(_str_or_none(package.get(key))):
                return False
        if self.epoch is not None:
            epoch = package.get("epoch")
            if not self.epoch.test(None if epoch is None else float(epoch)):
                return False
        return True


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

UNSUPPORTED_KEYS = frozenset(
    {
        "resourceTags", "ecrImageArchitecture", "ecrImageLastInUseAt", "ecrImageInUseCount",
        "ec2InstanceImageId", "ec2InstanceVpcId", "ec2InstanceSubnetId", "portRange",
        "networkProtocol", "componentId", "componentType", "lambdaFunctionName",
        "lambdaFunctionLayers", "lambdaFunctionRuntime", "lambdaFunctionLastModifiedAt",
        "lambdaFunctionExecutionRoleArn", "codeVulnerabilityDetectorName",
        "codeVulnerabilityDetectorTags", "codeVulnerabilityFilePath", "codeRepositoryProjectName",
        "codeRepositoryProviderType",
    }
)  # fmt: skip
"""Inspector keys about other resources or data dockwatch does not keep: refused by name."""

ENUM_VALUES: dict[str, tuple[str, ...]] = {
    "severity": SEVERITIES,
    "findingStatus": STATUSES,
    "findingType": FINDING_TYPES,
    "resourceType": RESOURCE_TYPES,
    "fixAvailable": FIX_AVAILABLE,
    "exploitAvailable": EXPLOIT_AVAILABLE,
}
"""Keys whose EQUALS / NOT_EQUALS values must be one of Inspector's enum values."""

_PACKAGE_FIELDS = {
    "name": "name", "version": "version", "release": "release", "architecture": "architecture",
    "sourceLayerHash": "source_layer_hash", "filePath": "file_path",
}  # fmt: skip
_PACKAGE_UNSUPPORTED = frozenset(
    {"sourceLambdaLayerArn", "runtimeReachability", "runtimeReachabilityReason", "purlQualifier"}
)


@dataclass(frozen=True, slots=True)
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
        """The FilterCriteria JSON (dates as ISO 8601); `parse_criteria` reads it back."""
        out: dict[str, Any] = {}
        for key, strings in self.strings.items():
            out[key] = [_string_wire(f) for f in strings]
        for key, dates in self.dates.items():
            out[key] = [_date_wire(f) for f in dates]
        for key, numbers in self.numbers.items():
            out[key] = [_number_wire(f) for f in numbers]
        if self.packages:
            out[PACKAGE_KEY] = [_package_wire(p) for p in self.packages]
        return out


def _string_wire(f: StringFilter) -> dict[str, Any]:
    return {"comparison": f.comparison.value, "value": f.value}


def _date_wire(f: DateFilter) -> dict[str, Any]:
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
    for wire, attr in _PACKAGE_FIELDS.items():
        f = getattr(p, attr)
        if f is not None:
            out[wire] = _string_wire(f)
    if p.epoch is not None:
        out["epoch"] = _number_wire(p.epoch)
    return out


# --- parsing -----------------------------------------------------------------------------------


def parse_criteria(doc: Mapping[str, Any], *, where: str = "filterCriteria") -> Criteria:
    """Validate an Inspector FilterCriteria document (raises `InvalidCriteria` naming the field)."""
    if not isinstance(doc, Mapping):
        raise InvalidCriteria(where, "must be an object")
    strings: dict[str, tuple[StringFilter, ...]] = {}
    dates: dict[str, tuple[DateFilter, ...]] = {}
    numbers: dict[str, tuple[NumberFilter, ...]] = {}
    packages: tuple[PackageFilter, ...] = ()
    for key, value in doc.items():
        path = f"{where}.{key}"
        if key in UNSUPPORTED_KEYS:
            raise InvalidCriteria(
                path, "is not supported: dockwatch findings are ECR container images"
            )
        if key not in KEYS:
            raise InvalidCriteria(path, f"unknown filter criterion (known: {', '.join(KEYS)})")
        if value is None:
            continue
        items = _items(path, value)
        if key in STRING_KEYS:
            strings[key] = tuple(
                _string_filter(f"{path}[{i}]", item, key) for i, item in enumerate(items)
            )
        elif key in DATE_KEYS:
            dates[key] = tuple(_date_filter(f"{path}[{i}]", item) for i, item in enumerate(items))
        elif key in NUMBER_KEYS:
            numbers[key] = tuple(
                _number_filter(f"{path}[{i}]", item) for i, item in enumerate(items)
            )
        else:
            packages = tuple(_package_filter(f"{path}[{i}]", item) for i, item in enumerate(items))
    return Criteria(strings, dates, numbers, packages)


def _items(path: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidCriteria(path, "must be a list of filters")
    if not 1 <= len(value) <= MAX_FILTERS:
        raise InvalidCriteria(path, f"must hold 1 to {MAX_FILTERS} filters, not {len(value)}")
    return value


def _fields(path: str, item: Any, allowed: Collection[str]) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise InvalidCriteria(path, "must be an object")
    for name in item:
        if name not in allowed:
            raise InvalidCriteria(
                f"{path}.{name}", f"unknown field (expected {', '.join(sorted(allowed))})"
            )
    return item


def _string_filter(path: str, item: Any, key: str | None = None) -> StringFilter:
    item = _fields(path, item, ("comparison", "value"))
    comparison = item.get("comparison")
    if comparison is None:
        raise InvalidCriteria(f"{path}.comparison", "is required (EQUALS, PREFIX or NOT_EQUALS)")
    try:
        cmp = Comparison(comparison)
    except ValueError:
        raise InvalidCriteria(
            f"{path}.comparison", f"{comparison!r} is not one of EQUALS, PREFIX, NOT_EQUALS"
        ) from None
    value = item.get("value")
    return StringFilter(cmp, _string_value(f"{path}.value", value, key, cmp))


def _string_value(path: str, value: Any, key: str | None, cmp: Comparison) -> str:
    if not isinstance(value, str):
        raise InvalidCriteria(path, "is required and must be a string")
    if not 1 <= len(value) <= MAX_VALUE:
        raise InvalidCriteria(path, f"must be 1 to {MAX_VALUE} characters long")
    if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise InvalidCriteria(path, "must not contain NUL or unpaired surrogate characters")
    allowed = ENUM_VALUES.get(key or "")
    if allowed is not None and cmp is not Comparison.PREFIX and value not in allowed:
        raise InvalidCriteria(path, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def parse_time(path: str, value: Any) -> datetime:
    """A timestamp as Inspector clients send it (epoch seconds) or ISO 8601, as aware UTC."""
    if isinstance(value, bool):
        raise InvalidCriteria(path, "must be epoch seconds or an ISO 8601 time")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise InvalidCriteria(path, "must be a finite number of epoch seconds")
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidCriteria(path, "is out of range") from None
    if isinstance(value, str):
        text = value.strip()
        try:
            return parse_time(path, float(text))
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidCriteria(path, f"{value!r} is not an ISO 8601 time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    raise InvalidCriteria(path, "must be epoch seconds or an ISO 8601 time")


def _date_filter(path: str, item: Any) -> DateFilter:
    item = _fields(path, item, ("startInclusive", "endInclusive"))
    start = item.get("startInclusive")
    end = item.get("endInclusive")
    f = DateFilter(
        None if start is None else parse_time(f"{path}.startInclusive", start),
        None if end is None else parse_time(f"{path}.endInclusive", end),
    )
    if f.start is not None and f.end is not None and f.start > f.end:
        raise InvalidCriteria(path, "startInclusive is after endInclusive")
    return f


def _number(path: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCriteria(path, "must be a number")
    if not math.isfinite(value):
        raise InvalidCriteria(path, "must be a finite number")
    return float(value)


def _number_filter(path: str, item: Any) -> NumberFilter:
    item = _fields(path, item, ("lowerInclusive", "upperInclusive"))
    lower = item.get("lowerInclusive")
    upper = item.get("upperInclusive")
    f = NumberFilter(
        None if lower is None else _number(f"{path}.lowerInclusive", lower),
        None if upper is None else _number(f"{path}.upperInclusive", upper),
    )
    if f.lower is not None and f.upper is not None and f.lower > f.upper:
        raise InvalidCriteria(path, "lowerInclusive is above upperInclusive")
    return f


def _package_filter(path: str, item: Any) -> PackageFilter:
    if isinstance(item, Mapping):
        for name in item:
            if name in _PACKAGE_UNSUPPORTED:
                raise InvalidCriteria(
                    f"{path}.{name}", "is not supported: dockwatch findings are ECR images"
                )
    item = _fields(path, item, (*_PACKAGE_FIELDS, "epoch"))
    values: dict[str, Any] = {}
    for wire, attr in _PACKAGE_FIELDS.items():
        if item.get(wire) is not None:
            values[attr] = _string_filter(f"{path}.{wire}", item[wire])
    if item.get("epoch") is not None:
        values["epoch"] = _number_filter(f"{path}.epoch", item["epoch"])
    if not values:
        raise InvalidCriteria(path, "names no package field")
    return PackageFilter(**values)


# --- query parameters --------------------------------------------------------------------------

PAGING_PARAMS = frozenset({"maxResults", "nextToken", "sortBy", "sortOrder"})
"""Query parameters of listings that are not criteria; `criteria_from_query` skips them."""

_QUERY_PACKAGE = {
    "packageName": "name", "packageVersion": "version", "packageRelease": "release",
    "packageArchitecture": "architecture", "packageSourceLayerHash": "sourceLayerHash",
    "packageFilePath": "filePath",
}  # fmt: skip


def _query_string(name: str, raw: str) -> dict[str, str]:
    """`!v` -> NOT_EQUALS v, `v*` -> PREFIX v, else EQUALS; `\\!`, `\\*` escape."""
    if raw.startswith("!"):
        return {"comparison": "NOT_EQUALS", "value": raw[1:]}
    value = raw.removeprefix("\\")
    if value.endswith("\\*"):
        return {"comparison": "EQUALS", "value": value[:-2] + "*"}
    if value.endswith("*"):
        return {"comparison": "PREFIX", "value": value[:-1]}
    return {"comparison": "EQUALS", "value": value}


def _query_time(name: str, raw: str) -> str | float:
    return raw


def _query_number(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InvalidCriteria(name, f"{raw!r} is not a number") from None
    return value


def criteria_from_query(
    params: Mapping[str, list[str]], *, ignore: Collection[str] = ()
) -> Criteria:
    """Criteria from query parameters (see the module docstring for the syntax).

    `maxResults`, `nextToken`, `sortBy`, `sortOrder` and the names in `ignore` are skipped; any
    other unknown parameter is an error, so a misspelt filter never silently matches everything.
    """
    skip = PAGING_PARAMS | set(ignore)
    present = {k: v for k, v in params.items() if k not in skip and v}
    if "filterCriteria" in present:
        others = sorted(set(present) - {"filterCriteria"})
        if others:
            raise InvalidCriteria(
                others[0], "cannot be combined with filterCriteria; put it inside the JSON"
            )
        values = present["filterCriteria"]
        if len(values) != 1:
            raise InvalidCriteria("filterCriteria", "give it once")
        try:
            parsed = json.loads(values[0])
        except ValueError as exc:
            raise InvalidCriteria("filterCriteria", f"is not valid JSON: {exc}") from None
        return parse_criteria(parsed)
    doc: dict[str, Any] = {}
    package: dict[str, list[Any]] = {}
    for name, values in present.items():
        if name in STRING_KEYS:
            doc[name] = [_query_string(name, v) for v in values]
        elif name in _QUERY_PACKAGE:
            package[_QUERY_PACKAGE[name]] = [_query_string(name, v) for v in values]
        elif name in ("packageEpochMin", "packageEpochMax"):
            continue
        elif (
            name.endswith(("From", "To"))
            and name.removesuffix("From").removesuffix("To") in DATE_KEYS
        ):
            continue
        elif name.endswith(("Min", "Max")) and name[:-3] in NUMBER_KEYS:
            continue
        elif name in KEYS:
            raise InvalidCriteria(
                name,
                f"give it as {name}From/{name}To"
                if name in DATE_KEYS
                else f"give it as {name}Min/{name}Max"
                if name in NUMBER_KEYS
                else "use packageName, packageVersion, ... or filterCriteria",
            )
        else:
            raise InvalidCriteria(name, "unknown query parameter")
    for key in DATE_KEYS:
        f = _one(present, f"{key}From")
        u = _one(present, f"{key}To")
        if f is not None or u is not None:
            doc[key] = [
                {
                    **({} if f is None else {"startInclusive": _query_time(f"{key}From", f)}),
                    **({} if u is None else {"endInclusive": _query_time(f"{key}To", u)}),
                }
            ]
    for key in NUMBER_KEYS:
        lo = _one(present, f"{key}Min")
        hi = _one(present, f"{key}Max")
        if lo is not None or hi is not None:
            doc[key] = [
                {
                    **({} if lo is None else {"lowerInclusive": _query_number(f"{key}Min", lo)}),
                    **({} if hi is None else {"upperInclusive": _query_number(f"{key}Max", hi)}),
                }
            ]
    lo = _one(present, "packageEpochMin")
    hi = _one(present, "packageEpochMax")
    epoch: dict[str, float] = {}
    if lo is not None:
        epoch["lowerInclusive"] = _query_number("packageEpochMin", lo)
    if hi is not None:
        epoch["upperInclusive"] = _query_number("packageEpochMax", hi)
    if package or epoch:
        doc[PACKAGE_KEY] = _query_packages(package, epoch)
    return parse_criteria(doc)


def _one(present: Mapping[str, list[str]], name: str) -> str | None:
    values = present.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidCriteria(name, "give it once")
    return values[0]


def _query_packages(package: Mapping[str, list[Any]], epoch: Mapping[str, float]) -> list[Any]:
    repeated = [k for k, v in package.items() if len(v) > 1]
    if len(repeated) > 1:
        raise InvalidCriteria(
            "package" + repeated[1][:1].upper() + repeated[1][1:],
            "only one package parameter may repeat; use filterCriteria for more",
        )
    base: dict[str, Any] = {k: v[0] for k, v in package.items() if len(v) == 1}
    if epoch:
        base["epoch"] = dict(epoch)
    if not repeated:
        return [base]
    return [{**base, repeated[0]: v} for v in package[repeated[0]]]


# --- the in-memory matcher ---------------------------------------------------------------------


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _as_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _image(finding: Mapping[str, Any]) -> Mapping[str, Any]:
    resources = finding.get("resources") or [{}]
    return resources[0].get("details", {}).get("awsEcrContainerImage") or {}


def _resource(finding: Mapping[str, Any]) -> Mapping[str, Any]:
    resources = finding.get("resources") or [{}]
    found: Mapping[str, Any] = resources[0]
    return found


def _pvd(finding: Mapping[str, Any]) -> Mapping[str, Any]:
    found: Mapping[str, Any] = finding.get("packageVulnerabilityDetails") or {}
    return found


_STRING_FIELDS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "findingArn": lambda f: f.get("findingArn"),
    "awsAccountId": lambda f: f.get("awsAccountId"),
    "findingType": lambda f: f.get("type"),
    "severity": lambda f: f.get("severity"),
    "findingStatus": lambda f: f.get("status"),
    "title": lambda f: f.get("title"),
    "resourceType": lambda f: _resource(f).get("type"),
    "resourceId": lambda f: _resource(f).get("id"),
    "ecrImageRegistry": lambda f: _image(f).get("registry"),
    "ecrImageRepositoryName": lambda f: _image(f).get("repositoryName"),
    "ecrImageTags": lambda f: list(_image(f).get("imageTags") or []),
    "ecrImageHash": lambda f: _image(f).get("imageHash"),
    "vulnerabilityId": lambda f: _pvd(f).get("vulnerabilityId"),
    "vulnerabilitySource": lambda f: _pvd(f).get("source") or None,
    "vendorSeverity": lambda f: _pvd(f).get("vendorSeverity"),
    "relatedVulnerabilities": lambda f: list(_pvd(f).get("relatedVulnerabilities") or []),
    "fixAvailable": lambda f: f.get("fixAvailable"),
    "exploitAvailable": lambda f: f.get("exploitAvailable"),
}
_DATE_FIELDS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "firstObservedAt": lambda f: f.get("firstObservedAt"),
    "lastObservedAt": lambda f: f.get("lastObservedAt"),
    "updatedAt": lambda f: f.get("updatedAt"),
    "ecrImagePushedAt": lambda f: _image(f).get("pushedAt"),
}
_NUMBER_FIELDS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "inspectorScore": lambda f: f.get("inspectorScore"),
    "epssScore": lambda f: (f.get("epss") or {}).get("score"),
}


def strings_hold(filters: Sequence[StringFilter], actual: Any) -> bool:
    positive = [f for f in filters if f.comparison is not Comparison.NOT_EQUALS]
    negative = [f for f in filters if f.comparison is Comparison.NOT_EQUALS]
    if isinstance(actual, list):
        values = [str(v) for v in actual]
        if positive and not any(f.test(v) for f in positive for v in values):
            return False
        return all(f.value not in values for f in negative)
    value = _str_or_none(actual)
    if positive and not any(f.test(value) for f in positive):
        return False
    return all(f.test(value) for f in negative)


def matches(criteria: Criteria, finding: Mapping[str, Any]) -> bool:
    """Whether an Inspector-shaped finding (`shape.inspector_finding`) meets the criteria."""
    for key, strings in criteria.strings.items():
        if not strings_hold(strings, _STRING_FIELDS[key](finding)):
            return False
    for key, dates in criteria.dates.items():
        moment = _as_time(_DATE_FIELDS[key](finding))
        if not any(f.test(moment) for f in dates):
            return False
    for key, numbers in criteria.numbers.items():
        raw = _NUMBER_FIELDS[key](finding)
        number = None if raw is None else float(raw)
        if not any(f.test(number) for f in numbers):
            return False
    if criteria.packages:
        packages = _pvd(finding).get("vulnerablePackages") or []
        if not any(p.test(pkg) for p in criteria.packages for pkg in packages):
            return False
    return True


# --- SQL ---------------------------------------------------------------------------------------


def sql_filter(criteria: Criteria) -> ColumnElement[bool]:
    """The criteria as a condition on `tables.findings` rows (tags, packages and push times
    through `IN (subquery)` on their indexes, JSON-only fields through the detail document);
    `true()` for empty criteria. Built by `criteria_sql` (its dialect constructs live there)."""
    from .criteria_sql import build

    return build(criteria)


def keys_used(criteria: Criteria) -> Iterable[str]:
    """The FilterCriteria keys a criteria names (for logs and choosing an index)."""
    yield from criteria.strings
    yield from criteria.dates
    yield from criteria.numbers
    if criteria.packages:
        yield PACKAGE_KEY
