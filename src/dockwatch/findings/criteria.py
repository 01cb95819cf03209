"""Inspector's `FilterCriteria` from the wire: validation of the JSON document into
`model.finding_criteria.Criteria` (the semantics are documented there), with errors naming the
offending field. The query-string form is `criteria_query`; the in-memory matcher `matcher`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from dockwatch.errors import InvalidInput
from dockwatch.model.finding_criteria import (
    DATE_KEYS,
    EXPLOIT_AVAILABLE,
    FINDING_TYPES,
    FIX_AVAILABLE,
    KEYS,
    NUMBER_KEYS,
    PACKAGE_FIELDS,
    RESOURCE_TYPES,
    SEVERITIES,
    STATUSES,
    STRING_KEYS,
    Comparison,
    Criteria,
    DateFilter,
    NumberFilter,
    PackageFilter,
    StringFilter,
)
from dockwatch.model.times import as_utc

MAX_FILTERS = 10
"""Filters per key (`StringFilterList` and the others: 1..10 in Inspector's model)."""
MAX_VALUE = 1024


class InvalidCriteria(InvalidInput):
    """A filter criteria document (or query parameter) that cannot be used."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        """Where the problem is, e.g. `filterCriteria.severity[1].comparison`."""
        self.reason = message


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

_PACKAGE_UNSUPPORTED = frozenset(
    {"sourceLambdaLayerArn", "runtimeReachability", "runtimeReachabilityReason", "purlQualifier"}
)


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
        items = filter_list(path, value)
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


def filter_list(path: str, value: Any) -> list[Any]:
    """A criterion's value: a list of 1 to MAX_FILTERS filters."""
    if not isinstance(value, list):
        raise InvalidCriteria(path, "must be a list of filters")
    if not 1 <= len(value) <= MAX_FILTERS:
        raise InvalidCriteria(path, f"must hold 1 to {MAX_FILTERS} filters, not {len(value)}")
    return value


def filter_fields(path: str, item: Any, allowed: Collection[str]) -> Mapping[str, Any]:
    """One filter: an object holding only `allowed` fields."""
    if not isinstance(item, Mapping):
        raise InvalidCriteria(path, "must be an object")
    for name in item:
        if name not in allowed:
            raise InvalidCriteria(
                f"{path}.{name}", f"unknown field (expected {', '.join(sorted(allowed))})"
            )
    return item


def _string_filter(path: str, item: Any, key: str | None = None) -> StringFilter:
    item = filter_fields(path, item, ("comparison", "value"))
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
        return as_utc(parsed)
    raise InvalidCriteria(path, "must be epoch seconds or an ISO 8601 time")


_Bound = TypeVar("_Bound", datetime, float)


def _bounds(
    path: str, item: Any, keys: tuple[str, str], parse: Callable[[str, Any], _Bound], above: str
) -> tuple[_Bound | None, _Bound | None]:
    """The two optional bounds of a range filter, refused when the first is `above` the second."""
    item = filter_fields(path, item, keys)
    low, high = (None if item.get(k) is None else parse(f"{path}.{k}", item[k]) for k in keys)
    if low is not None and high is not None and low > high:
        raise InvalidCriteria(path, f"{keys[0]} is {above} {keys[1]}")
    return low, high


def _date_filter(path: str, item: Any) -> DateFilter:
    keys = ("startInclusive", "endInclusive")
    return DateFilter(*_bounds(path, item, keys, parse_time, "after"))


def _number(path: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCriteria(path, "must be a number")
    if not math.isfinite(value):
        raise InvalidCriteria(path, "must be a finite number")
    return float(value)


def _number_filter(path: str, item: Any) -> NumberFilter:
    keys = ("lowerInclusive", "upperInclusive")
    return NumberFilter(*_bounds(path, item, keys, _number, "above"))


def _package_filter(path: str, item: Any) -> PackageFilter:
    if isinstance(item, Mapping):
        for name in item:
            if name in _PACKAGE_UNSUPPORTED:
                raise InvalidCriteria(
                    f"{path}.{name}", "is not supported: dockwatch findings are ECR images"
                )
    item = filter_fields(path, item, (*PACKAGE_FIELDS, "epoch"))
    values: dict[str, Any] = {}
    for wire, attr in PACKAGE_FIELDS.items():
        if item.get(wire) is not None:
            values[attr] = _string_filter(f"{path}.{wire}", item[wire])
    if item.get("epoch") is not None:
        values["epoch"] = _number_filter(f"{path}.epoch", item["epoch"])
    if not values:
        raise InvalidCriteria(path, "names no package field")
    return PackageFilter(**values)
