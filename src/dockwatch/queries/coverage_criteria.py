"""Inspector's `CoverageFilterCriteria` from the wire (a JSON body) or from query parameters.

Every key of Inspector's model is accepted with the filter shape the model gives it; an unknown
key, an unknown field inside a filter or a comparison the model does not allow (coverage strings
know EQUALS and NOT_EQUALS only) is refused with a message naming the field. Timestamps are
epoch seconds (what boto3 sends) or ISO 8601.

Query parameters (`GET /api/v1/coverage`): a parameter per string key, repeatable, `!v` for
NOT_EQUALS (`\\!` for a literal `!`); dates as `<key>From` / `<key>To`; numbers as
`<key>Min` / `<key>Max`; `repositoryName` for `ecrRepositoryName`; or the whole criteria as
JSON in `filterCriteria`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

from dockwatch.findings.criteria import (
    MAX_VALUE,
    InvalidCriteria,
    filter_fields,
    filter_list,
    parse_time,
)
from dockwatch.model.coverage_criteria import (
    DATE_KEYS,
    IMAGE,
    MAP_KEYS,
    NUMBER_KEYS,
    REPOSITORY,
    STRING_KEYS,
    CoverageComparison,
    CoverageCriteria,
    CoverageMap,
    CoverageRange,
    CoverageString,
)

ENUMS: dict[str, tuple[str, ...]] = {
    "scanStatusCode": ("ACTIVE", "INACTIVE"),
    "scanType": ("NETWORK", "PACKAGE", "CODE"),
    "resourceType": (
        "AWS_EC2_INSTANCE", IMAGE, REPOSITORY, "AWS_LAMBDA_FUNCTION", "CODE_REPOSITORY",
        "Microsoft.Compute/virtualMachines", "Microsoft.ContainerRegistry/registry/containerImage",
        "Microsoft.ContainerRegistry/registry/containerRepository", "Microsoft.Web/sites",
        "Microsoft.ContainerRegistry/registries", "MACHINE_IMAGE",
        "cloudfunctions.googleapis.com/Function", "compute.googleapis.com/Instance",
        "artifactregistry.googleapis.com/Repository", "artifactregistry.googleapis.com/DockerImage",
    ),
}  # fmt: skip
"""Keys whose values must be one of Inspector's enum values (a typo would select nothing)."""

_ALL_KEYS = (*STRING_KEYS, *DATE_KEYS, *NUMBER_KEYS, *MAP_KEYS)
_QUERY_ALIASES = {"repositoryName": "ecrRepositoryName"}


def _text(path: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidCriteria(path, "is required and must be a string")
    if not 1 <= len(value) <= MAX_VALUE:
        raise InvalidCriteria(path, f"must be 1 to {MAX_VALUE} characters long")
    if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise InvalidCriteria(path, "must not contain NUL or unpaired surrogate characters")
    return value


def _string(path: str, key: str, item: Any) -> CoverageString:
    item = filter_fields(path, item, ("comparison", "value"))
    raw = item.get("comparison")
    allowed = ", ".join(CoverageComparison)
    if raw is None:
        raise InvalidCriteria(f"{path}.comparison", f"is required ({allowed})")
    if raw not in CoverageComparison.__members__:
        raise InvalidCriteria(
            f"{path}.comparison",
            f"{raw!r} is not a coverage comparison (Inspector's coverage filters allow {allowed})",
        )
    value = _text(f"{path}.value", item.get("value"))
    choices = ENUMS.get(key)
    if choices is not None and value not in choices:
        raise InvalidCriteria(f"{path}.value", f"{value!r} is not one of {', '.join(choices)}")
    return CoverageString(CoverageComparison(raw), value)


def _count(path: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidCriteria(path, "must be an integer")
    return value


def _range(
    path: str, item: Any, keys: tuple[str, str], parse: Callable[[str, Any], Any]
) -> CoverageRange:
    item = filter_fields(path, item, keys)
    low, high = (None if item.get(k) is None else parse(f"{path}.{k}", item[k]) for k in keys)
    if low is not None and high is not None and low > high:
        raise InvalidCriteria(path, f"{keys[0]} is after {keys[1]}")
    return CoverageRange(low, high)


def _map(path: str, item: Any) -> CoverageMap:
    item = filter_fields(path, item, ("comparison", "key", "value"))
    if item.get("comparison") != "EQUALS":
        raise InvalidCriteria(f"{path}.comparison", "is required and must be EQUALS")
    value = item.get("value")
    return CoverageMap(
        _text(f"{path}.key", item.get("key")),
        None if value is None else _text(f"{path}.value", value),
    )


def parse_coverage_criteria(doc: Any, *, where: str = "filterCriteria") -> CoverageCriteria:
    """Validate a `CoverageFilterCriteria` document (raises `InvalidCriteria` naming the field)."""
    if not isinstance(doc, Mapping):
        raise InvalidCriteria(where, "must be an object")
    out = CoverageCriteria()
    for key, value in doc.items():
        path = f"{where}.{key}"
        if key in STRING_KEYS:
            items = filter_list(path, value)
            out.strings[key] = tuple(_string(f"{path}[{i}]", key, x) for i, x in enumerate(items))
        elif key in DATE_KEYS:
            keys = ("startInclusive", "endInclusive")
            out.ranges[key] = tuple(
                _range(f"{path}[{i}]", x, keys, parse_time)
                for i, x in enumerate(filter_list(path, value))
            )
        elif key in NUMBER_KEYS:
            keys = ("lowerInclusive", "upperInclusive")
            out.ranges[key] = tuple(
                _range(f"{path}[{i}]", x, keys, _count)
                for i, x in enumerate(filter_list(path, value))
            )
        elif key in MAP_KEYS:
            out.maps[key] = tuple(
                _map(f"{path}[{i}]", x) for i, x in enumerate(filter_list(path, value))
            )
        else:
            raise InvalidCriteria(
                path, f"unknown key (CoverageFilterCriteria has {', '.join(sorted(_ALL_KEYS))})"
            )
    return out


def _query_string(raw: str) -> dict[str, str]:
    if raw.startswith("!"):
        return {"comparison": "NOT_EQUALS", "value": raw[1:]}
    return {"comparison": "EQUALS", "value": raw.removeprefix("\\")}


def _query_number(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise InvalidCriteria(name, f"{raw!r} is not an integer") from None


def coverage_criteria_from_query(
    params: Mapping[str, list[str]], *, ignore: Collection[str] = ()
) -> CoverageCriteria:
    """Criteria from `GET` query parameters (see the module docstring)."""
    given = {k: v for k, v in params.items() if k not in ignore}
    if "filterCriteria" in given:
        if len(given) > 1:
            raise InvalidCriteria("filterCriteria", "give either filterCriteria or single filters")
        raw = given["filterCriteria"]
        if len(raw) != 1:
            raise InvalidCriteria("filterCriteria", "give it once")
        try:
            whole = json.loads(raw[0])
        except ValueError as exc:
            raise InvalidCriteria("filterCriteria", f"is not JSON: {exc}") from None
        return parse_coverage_criteria(whole)
    doc: dict[str, list[dict[str, Any]]] = {}
    ranges: dict[str, dict[str, Any]] = {}
    for name, values in given.items():
        key = _QUERY_ALIASES.get(name, name)
        if key in STRING_KEYS:
            doc.setdefault(key, []).extend(_query_string(v) for v in values)
            continue
        for suffix, bound, keys, parse in (
            ("From", "startInclusive", DATE_KEYS, None),
            ("To", "endInclusive", DATE_KEYS, None),
            ("Min", "lowerInclusive", NUMBER_KEYS, _query_number),
            ("Max", "upperInclusive", NUMBER_KEYS, _query_number),
        ):
            base = name.removesuffix(suffix)
            if name.endswith(suffix) and base in keys:
                if len(values) != 1:
                    raise InvalidCriteria(name, "give it once")
                ranges.setdefault(base, {})[bound] = (
                    values[0] if parse is None else parse(name, values[0])
                )
                break
        else:
            raise InvalidCriteria(name, "unknown filter parameter")
    doc.update({key: [bounds] for key, bounds in ranges.items()})
    return parse_coverage_criteria(doc, where="query")
