"""Inspector's `FilterCriteria` from query parameters, for `GET` listings.

A parameter per string key (`?severity=HIGH&severity=CRITICAL&ecrImageRepositoryName=prod-*&
findingStatus=!CLOSED`): a trailing `*` makes a PREFIX filter, a leading `!` a NOT_EQUALS one
(`\\*`, `\\!` for the literal characters); dates as `<key>From` / `<key>To` (ISO 8601 or epoch
seconds), numbers as `<key>Min` / `<key>Max`; packages as `packageName`, `packageVersion`,
`packageRelease`, `packageArchitecture`, `packageSourceLayerHash`, `packageFilePath`,
`packageEpochMin/Max` (one package filter; one of them may repeat, giving one package filter per
value); or the whole criteria as JSON in `filterCriteria` (not mixed with the others).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from dockwatch.findings.criteria import InvalidCriteria, parse_criteria
from dockwatch.model.finding_criteria import (
    DATE_KEYS,
    KEYS,
    NUMBER_KEYS,
    PACKAGE_KEY,
    STRING_KEYS,
    Criteria,
)

PAGING_PARAMS = frozenset({"maxResults", "nextToken", "sortBy", "sortOrder"})
"""Query parameters of listings that are not criteria; `criteria_from_query` skips them."""

_QUERY_PACKAGE = {
    "packageName": "name", "packageVersion": "version", "packageRelease": "release",
    "packageArchitecture": "architecture", "packageSourceLayerHash": "sourceLayerHash",
    "packageFilePath": "filePath",
}  # fmt: skip


def query_string_filter(raw: str) -> dict[str, str]:
    """A StringFilter as a query parameter spells it: `!v` -> NOT_EQUALS v, `v*` -> PREFIX v,
    else EQUALS; `\\!`, `\\*` escape."""
    if raw.startswith("!"):
        return {"comparison": "NOT_EQUALS", "value": raw[1:]}
    value = raw.removeprefix("\\")
    if value.endswith("\\*"):
        return {"comparison": "EQUALS", "value": value[:-2] + "*"}
    if value.endswith("*"):
        return {"comparison": "PREFIX", "value": value[:-1]}
    return {"comparison": "EQUALS", "value": value}


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
            doc[name] = [query_string_filter(v) for v in values]
        elif name in _QUERY_PACKAGE:
            package[_QUERY_PACKAGE[name]] = [query_string_filter(v) for v in values]
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
                    **({} if f is None else {"startInclusive": f}),
                    **({} if u is None else {"endInclusive": u}),
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
