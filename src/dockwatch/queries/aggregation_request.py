"""ListFindingAggregations requests: validation of Inspector's body and of the query-string
form, into one `model.finding_aggregation.AggregationQuery` (see `aggregations` for what is
counted and how)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dockwatch.errors import InvalidInput
from dockwatch.findings.criteria import MAX_FILTERS, MAX_VALUE, parse_criteria, parse_time
from dockwatch.model.finding_aggregation import MAX_RESULTS, AggregationQuery
from dockwatch.model.finding_criteria import (
    FINDING_TYPES,
    RESOURCE_TYPES,
    Comparison,
    Criteria,
    DateFilter,
    StringFilter,
)
from dockwatch.model.page_token import MAX_TOKEN_CHARS

from .criteria_query import criteria_from_query, query_string_filter

MEMBERS = {
    "REPOSITORY": "repositoryAggregation",
    "AWS_ECR_CONTAINER": "awsEcrContainerAggregation",
    "IMAGE_LAYER": "imageLayerAggregation",
    "PACKAGE": "packageAggregation",
    "TITLE": "titleAggregation",
    "FINDING_TYPE": "findingTypeAggregation",
    "ACCOUNT": "accountAggregation",
}
"""The aggregation types dockwatch computes -> their request and response member."""
OTHER_MEMBERS = {
    "AMI": "amiAggregation",
    "AWS_EC2_INSTANCE": "ec2InstanceAggregation",
    "AWS_LAMBDA_FUNCTION": "lambdaFunctionAggregation",
    "LAMBDA_LAYER": "lambdaLayerAggregation",
    "CODE_REPOSITORY": "codeRepositoryAggregation",
    "VM_INSTANCE": "vmInstanceAggregation",
    "CONTAINER_IMAGE": "containerImageAggregation",
    "SERVERLESS_FUNCTION": "serverlessFunctionAggregation",
}
"""Types about resources dockwatch does not have: valid, always empty."""

STRING_FIELDS: dict[str, tuple[str, ...]] = {
    "REPOSITORY": ("repositories",),
    "AWS_ECR_CONTAINER": ("resourceIds", "imageShas", "repositories", "imageTags"),
    "IMAGE_LAYER": ("repositories", "resourceIds", "layerHashes"),
    "PACKAGE": ("packageNames",),
    "TITLE": ("titles", "vulnerabilityIds"),
    "FINDING_TYPE": (),
    "ACCOUNT": (),
}
"""The StringFilter lists each aggregation request takes."""
ENUM_FIELDS: dict[str, tuple[str, ...]] = {
    "TITLE": ("resourceType", "findingType"),
    "FINDING_TYPE": ("findingType", "resourceType"),
    "ACCOUNT": ("findingType", "resourceType"),
}
UNTRACKED_FIELDS = frozenset(
    {"architectures", "inUseCount", "cloudProviders", "cloudAccountIds", "cloudOrgIds",
     "cloudRegions", "cloudPartitions"}
)  # fmt: skip
"""Request filters on data dockwatch does not keep: refused by name rather than ignored."""

SORT_BY: dict[str, tuple[str, ...]] = dict.fromkeys(MEMBERS, ("CRITICAL", "HIGH", "ALL"))
SORT_BY["REPOSITORY"] = ("CRITICAL", "HIGH", "ALL", "AFFECTED_IMAGES")


# --- parsing -------------------------------------------------------------------------------------


def _bad(path: str, message: str) -> InvalidInput:
    return InvalidInput(f"{path}: {message}")


def _string(path: str, value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_VALUE:
        raise _bad(path, f"must be a string of 1 to {MAX_VALUE} characters")
    if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise _bad(path, "must not contain NUL or unpaired surrogate characters")
    return value


def _string_filters(path: str, value: Any) -> tuple[StringFilter, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_FILTERS:
        raise _bad(path, f"must be a list of 1 to {MAX_FILTERS} StringFilter objects")
    out = []
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(item, Mapping) or set(item) - {"comparison", "value"}:
            raise _bad(where, "must be an object with comparison and value only")
        try:
            comparison = Comparison(str(item.get("comparison")))
        except ValueError:
            raise _bad(f"{where}.comparison", "must be EQUALS, PREFIX or NOT_EQUALS") from None
        out.append(StringFilter(comparison, _string(f"{where}.value", item.get("value"))))
    return tuple(out)


def _date_filters(path: str, value: Any) -> tuple[DateFilter, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_FILTERS:
        raise _bad(path, f"must be a list of 1 to {MAX_FILTERS} DateFilter objects")
    out = []
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(item, Mapping) or set(item) - {"startInclusive", "endInclusive"}:
            raise _bad(where, "must be an object with startInclusive and/or endInclusive")
        start, end = item.get("startInclusive"), item.get("endInclusive")
        f = DateFilter(
            None if start is None else parse_time(f"{where}.startInclusive", start),
            None if end is None else parse_time(f"{where}.endInclusive", end),
        )
        if f.start is not None and f.end is not None and f.start > f.end:
            raise _bad(where, "startInclusive is after endInclusive")
        out.append(f)
    return tuple(out)


def _enum(path: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise _bad(path, f"must be one of {', '.join(allowed)}")
    return str(value)


def _max_results(path: str, value: Any) -> int:
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise _bad(path, "must be a number") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON's 2.0 is the integer 2
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RESULTS:
        raise _bad(path, f"must be an integer from 1 to {MAX_RESULTS}")
    return value


def _token(path: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_TOKEN_CHARS:
        raise _bad(path, "is not a token this API issued")
    return value


def _aggregation_type(path: str, value: Any) -> str:
    if value not in MEMBERS and value not in OTHER_MEMBERS:
        raise _bad(path, f"must be one of {', '.join([*MEMBERS, *OTHER_MEMBERS])}")
    return str(value)


def parse_request(body: Any) -> AggregationQuery:
    """A ListFindingAggregations body (plus dockwatch's `filterCriteria`), validated."""
    if not isinstance(body, Mapping):
        raise _bad("body", "must be a JSON object")
    known = {"aggregationType", "aggregationRequest", "maxResults", "nextToken", "accountIds",
             "filterCriteria"}  # fmt: skip
    for key in body:
        if key not in known:
            raise _bad(key, f"unknown field (expected {', '.join(sorted(known))})")
    if body.get("aggregationType") is None:
        raise _bad("aggregationType", "is required")
    kind = _aggregation_type("aggregationType", body["aggregationType"])
    member = MEMBERS.get(kind) or OTHER_MEMBERS[kind]
    request = body.get("aggregationRequest")
    request = {} if request is None else request  # null is absent; [] or "" is not an object
    if not isinstance(request, Mapping):
        raise _bad("aggregationRequest", "must be an object")
    if len(request) > 1:
        raise _bad("aggregationRequest", "is a union: give exactly one member")
    if request and member not in request:
        raise _bad("aggregationRequest", f"must hold {member} for aggregationType {kind}")
    detail = request.get(member)
    detail = {} if detail is None else detail
    if not isinstance(detail, Mapping):
        raise _bad(f"aggregationRequest.{member}", "must be an object")
    strings: dict[str, tuple[StringFilter, ...]] = {}
    last_in_use: tuple[DateFilter, ...] = ()
    enums: dict[str, str] = {}
    sort_by, sort_order = "CRITICAL", "DESC"
    for name, value in detail.items():
        path = f"aggregationRequest.{member}.{name}"
        if value is None:
            continue
        if kind not in MEMBERS:
            continue  # types without resources: any filter selects nothing
        if name in STRING_FIELDS[kind]:
            strings[name] = _string_filters(path, value)
        elif name in ENUM_FIELDS.get(kind, ()):
            enums[name] = _enum(
                path, value, FINDING_TYPES if name == "findingType" else RESOURCE_TYPES
            )
        elif name == "lastInUseAt" and kind == "AWS_ECR_CONTAINER":
            last_in_use = _date_filters(path, value)
        elif name == "sortBy":
            sort_by = _enum(path, value, SORT_BY[kind])
        elif name == "sortOrder":
            sort_order = _enum(path, value, ("ASC", "DESC"))
        elif name in UNTRACKED_FIELDS:
            raise _bad(path, "is not supported: dockwatch does not track it")
        else:
            raise _bad(path, "unknown field")
    accounts = (
        _string_filters("accountIds", body["accountIds"])
        if body.get("accountIds") is not None
        else ()
    )
    criteria = (
        parse_criteria(body["filterCriteria"])
        if body.get("filterCriteria") is not None
        else Criteria()
    )
    return AggregationQuery(
        kind,
        strings,
        last_in_use,
        enums.get("findingType"),
        enums.get("resourceType"),
        accounts,
        criteria,
        sort_by,
        sort_order,
        _max_results("maxResults", body.get("maxResults", MAX_RESULTS)),
        _token("nextToken", body.get("nextToken")),
    )


def _single(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name) or []
    if len(values) > 1:
        raise _bad(name, "give it once")
    return values[0] if values else None


def query_from_params(params: Mapping[str, list[str]]) -> AggregationQuery:
    """`GET /api/v1/findings/aggregations`: `type` (an aggregationType; ACCOUNT, the totals, by
    default), `sortBy`,
    `sortOrder`, `maxResults`, `nextToken`, the aggregation request's filter lists by name
    (`repositories=prod-*&imageTags=!latest`), and any ListFindings criterion as
    `criteria_from_query` reads it (`findingStatus=SUPPRESSED`, `fixAvailable=YES`, ...)."""
    kind = _aggregation_type(
        "type", _single(params, "type") or _single(params, "aggregationType") or "ACCOUNT"
    )
    own = {n for fields in STRING_FIELDS.values() for n in fields}
    request: dict[str, Any] = {}
    for name in sorted(own):
        values = params.get(name) or []
        if not values:
            continue
        if kind in STRING_FIELDS and name not in STRING_FIELDS[kind]:
            raise _bad(name, f"is not a filter of aggregationType {kind}")
        request[name] = [query_string_filter(v) for v in values]
    for name in ("sortBy", "sortOrder"):
        value = _single(params, name)
        if value is not None:
            request[name] = value
    body: dict[str, Any] = {"aggregationType": kind}
    if request:
        body["aggregationRequest"] = {(MEMBERS.get(kind) or OTHER_MEMBERS[kind]): request}
    for name in ("maxResults", "nextToken"):
        value = _single(params, name)
        if value is not None:
            body[name] = value
    parsed = parse_request(body)
    criteria = criteria_from_query(
        params, ignore=own | {"type", "aggregationType", "sortBy", "sortOrder"}
    )
    return AggregationQuery(
        parsed.type,
        parsed.strings,
        parsed.last_in_use,
        parsed.finding_type,
        parsed.resource_type,
        parsed.accounts,
        criteria,
        parsed.sort_by,
        parsed.sort_order,
        parsed.max_results,
        parsed.next_token,
    )
