"""The request body of every /api/v1 operation that takes one, as a `Shape` per (method, path).

The router reads and checks a body against its shape before the handler runs, and the OpenAPI
document publishes the same shape as the operation's request body; an operation missing from
this table takes no body. Field schemas are built from the domain's own tables (enums, limits,
the filter keys), and say no more than the domain parsers accept (a `maxResults` may be a number
or a numeric string, as in the query-string forms).
"""

from __future__ import annotations

from typing import Any

from dockwatch.events.eventbridge import DELIVERABLE_TYPES
from dockwatch.events.subscriptions import MAX_DESCRIPTION, MAX_SECRET, MAX_URL, MIN_SECRET
from dockwatch.findings.suppression_rule import ACTIONS, MAX_TAGS, MAX_TEXT, NAME, SELF_REFERENCING
from dockwatch.model.coverage_criteria import GroupKey
from dockwatch.model.finding_aggregation import MAX_RESULTS as AGGREGATION_MAX
from dockwatch.model.finding_criteria import FINDING_TYPES, RESOURCE_TYPES
from dockwatch.model.finding_sort import SortField, SortOrder
from dockwatch.model.page_token import MAX_TOKEN_CHARS
from dockwatch.pullpolicy.policy import (
    MAX_ALLOWANCE_DAYS,
    MAX_REASON,
    MAX_SCAN_AGE_HOURS,
    SEVERITY_RANK,
)
from dockwatch.queries.aggregation_request import (
    ENUM_FIELDS,
    MEMBERS,
    OTHER_MEMBERS,
    SORT_BY,
    STRING_FIELDS,
)
from dockwatch.queries.coverage import MAX_RESULTS as COVERAGE_MAX
from dockwatch.queries.listing import MAX_RESULTS as LISTING_MAX
from dockwatch.scan.config import (
    FILTER_PATTERN,
    MAX_FILTER_LENGTH,
    MAX_FILTERS,
    MAX_RULES,
    ScanFrequency,
    ScanType,
)
from dockwatch.scan.duration import PULL_DATE_DURATIONS, RESCAN_DURATIONS, PullDateMode

from .body import Field, Shape
from .schemas.common import (
    DATE_FILTER,
    DIGEST,
    EPOCH_OR_ISO,
    EPOCH_OR_TIME,
    FILTER_CRITERIA,
    REPOSITORY_NAME,
    enum,
    obj,
    string_filter,
)
from .schemas.common import filters as _filters
from .schemas.registry import COVERAGE_CRITERIA

_PORT = "(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
URL_PATTERN = f'^https?://([a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?|\\[[0-9a-fA-F:.]+\\])(:{_PORT})?(/[!-"$-~]*)?$'
"""A webhook receiver URL: http(s), a host name or address (IPv6 in brackets), an optional
port and path: printable ASCII without `#`, since a fragment is refused."""


def _results(top: int) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "integer", "minimum": 1, "maximum": top},
            {"type": "string", "pattern": f"^[1-9][0-9]{{0,{len(str(top)) - 2}}}$"},
        ]
    }


_TOKEN = {"minLength": 1, "maxLength": MAX_TOKEN_CHARS}


def _rules(frequencies: list[ScanFrequency]) -> dict[str, Any]:
    repository_filter = obj(
        {"filter": {"type": "string", "minLength": 1, "maxLength": MAX_FILTER_LENGTH,
                    "pattern": FILTER_PATTERN.pattern}},
        {"filterType": enum(["WILDCARD"])},
    )  # fmt: skip
    rule = obj(
        {
            "scanFrequency": enum(frequencies),
            "repositoryFilters": {
                "type": "array",
                "items": repository_filter,
                "maxItems": MAX_FILTERS,
            },
        }
    )
    return {"type": "array", "items": rule, "maxItems": MAX_RULES}


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _aggregation(kind: str) -> dict[str, Any]:
    """The body for one aggregationType: its request member (`queries.aggregation_request`)."""
    member = MEMBERS.get(kind) or OTHER_MEMBERS[kind]
    if kind in MEMBERS:
        fields: dict[str, Any] = {name: _filters(string_filter()) for name in STRING_FIELDS[kind]}
        for name in ENUM_FIELDS.get(kind, ()):
            fields[name] = enum(FINDING_TYPES if name == "findingType" else RESOURCE_TYPES)
        if kind == "AWS_ECR_CONTAINER":
            fields["lastInUseAt"] = _filters(DATE_FILTER)
        fields["sortBy"] = enum(SORT_BY[kind])
        fields["sortOrder"] = enum(SortOrder)
        # null stands for an absent member, as in AWS's JSON protocol
        detail = obj(optional={k: _or_null(v) for k, v in fields.items()}, closed=True)
    else:
        detail = {"type": "object"}
    request = _or_null(obj(optional={member: _or_null(detail)}, closed=True))
    return {
        "properties": {"aggregationType": {"const": kind}, "aggregationRequest": request},
    }


SCANNING_CONFIGURATION = Shape(
    (
        Field(
            "scanType",
            ("string",),
            schema=enum(ScanType),
            description="BASIC (default) or ENHANCED",
        ),
        Field("rules", ("array",), schema={"maxItems": MAX_RULES}, description="Scanning rules"),
    ),
    description="BASIC scanning takes SCAN_ON_PUSH rules only; ENHANCED takes CONTINUOUS_SCAN "
    "and SCAN_ON_PUSH rules",
    constraints={
        "anyOf": [
            {
                "properties": {
                    "scanType": {"const": ScanType.BASIC.value},
                    "rules": _rules([ScanFrequency.SCAN_ON_PUSH]),
                }
            },
            {
                "required": ["scanType"],
                "properties": {
                    "scanType": {"const": ScanType.ENHANCED.value},
                    "rules": _rules([ScanFrequency.CONTINUOUS_SCAN, ScanFrequency.SCAN_ON_PUSH]),
                },
            },
        ]
    },
)

BODIES: dict[tuple[str, str], Shape] = {
    ("PUT", "/api/v1/registry/scanning-configuration"): SCANNING_CONFIGURATION,
    ("POST", "/api/v1/registry/scanning-configuration/preview"): SCANNING_CONFIGURATION,
    ("PUT", "/api/v1/configuration"): Shape(
        (
            Field(
                "ecrConfiguration",
                ("object",),
                required=True,
                schema=obj(
                    optional={
                        "rescanDuration": enum(RESCAN_DURATIONS),
                        "pullDateRescanDuration": {
                            "anyOf": [enum(PULL_DATE_DURATIONS), {"type": "null"}]
                        },
                        "pullDateRescanMode": enum(PullDateMode),
                    }
                ),
            ),
        )
    ),
    ("PUT", "/api/v1/repositories/{name:path}/scanning-configuration"): Shape(
        (Field("scanOnPush", ("boolean",), required=True),)
    ),
    ("POST", "/api/v1/findings/aggregations/list"): Shape(
        (
            Field(
                "aggregationType",
                ("string",),
                required=True,
                schema=enum([*MEMBERS, *OTHER_MEMBERS]),
            ),
            Field("aggregationRequest", ("object",), schema={"maxProperties": 1}, nullable=True),
            Field("maxResults", ("integer", "string"), schema=_results(AGGREGATION_MAX)),
            Field("nextToken", ("string",), schema=_TOKEN, nullable=True),
            Field("accountIds", ("array",), schema=_filters(string_filter()), nullable=True),
            Field("filterCriteria", ("object",), schema=FILTER_CRITERIA, nullable=True),
        ),
        closed=True,
        constraints={"anyOf": [_aggregation(kind) for kind in (*MEMBERS, *OTHER_MEMBERS)]},
        enforce_constraints=False,  # queries.aggregation_request names the field at fault
    ),
    ("POST", "/api/v1/findings/list"): Shape(
        (
            Field("filterCriteria", ("object",), schema=FILTER_CRITERIA, nullable=True),
            Field(
                "sortCriteria",
                ("object",),
                schema=obj(
                    optional={"field": enum(SortField), "sortOrder": enum(SortOrder)}, closed=True
                ),
                nullable=True,
            ),
            Field("maxResults", ("integer", "string"), schema=_results(LISTING_MAX), nullable=True),
            Field("nextToken", ("string",), schema=_TOKEN, nullable=True),
        ),
        closed=True,
    ),
    ("POST", "/api/v1/coverage/list"): Shape(
        (
            Field("filterCriteria", ("object",), schema=COVERAGE_CRITERIA, nullable=True),
            Field(
                "maxResults", ("integer", "string"), schema=_results(COVERAGE_MAX), nullable=True
            ),
            Field("nextToken", ("string",), schema=_TOKEN, nullable=True),
        ),
        closed=True,
    ),
    ("POST", "/api/v1/coverage/statistics/list"): Shape(
        (
            Field("filterCriteria", ("object",), schema=COVERAGE_CRITERIA, nullable=True),
            Field("groupBy", ("string",), schema=enum(GroupKey), nullable=True),
            Field("nextToken", ("string",), schema={"maxLength": 0}, nullable=True),
        ),
        closed=True,
    ),
    ("POST", "/api/v1/repositories/scanning-configuration/batch-get"): Shape(
        (
            Field(
                "repositoryNames",
                ("array",),
                required=True,
                schema={"items": REPOSITORY_NAME, "minItems": 1, "maxItems": 25},
            ),
        ),
        closed=True,
    ),
    ("POST", "/api/v1/webhooks"): Shape(
        (
            Field(
                "url",
                ("string",),
                required=True,
                schema={"pattern": URL_PATTERN, "maxLength": MAX_URL},
                message="url must be an absolute http or https URL with a host",
            ),
            Field(
                "secret",
                ("string",),
                schema={
                    "minLength": MIN_SECRET,
                    "maxLength": MAX_SECRET,
                    "pattern": "^[^\\u0000-\\u001f\\u007f]*$",
                },
                nullable=True,
            ),
            Field(
                "eventTypes",
                ("array",),
                schema={"items": enum(DELIVERABLE_TYPES), "minItems": 1},
                message=f"eventTypes: unknown event type or an empty list; known: {list(DELIVERABLE_TYPES)}",
                nullable=True,
            ),
            Field("description", ("string",), schema={"maxLength": MAX_DESCRIPTION}, nullable=True),
            Field("insecureSkipVerify", ("boolean",)),
        ),
        closed=True,
    ),  # fmt: skip
}

_TEXT = {"minLength": 1, "maxLength": MAX_TEXT}
_SUPPRESSIBLE = {
    "if": {"properties": {"action": {"const": "SUPPRESS"}}, "required": ["action"]},
    "then": {
        "properties": {
            "filterCriteria": {
                "not": {"additionalProperties": {"type": "null"}},
                "propertyNames": {"not": {"enum": list(SELF_REFERENCING)}},
            }
        }
    },
}
"""A SUPPRESS rule names at least one criterion, and none that suppressing changes."""
_SUPPRESSIBLE_MESSAGE = (
    "filterCriteria: a SUPPRESS rule must name at least one criterion, and none that "
    f"suppressing changes ({', '.join(SELF_REFERENCING)})"
)


def _rule_fields(create: bool) -> tuple[Field, ...]:
    """CreateFilter's fields (action, name and filterCriteria required) or UpdateFilter's."""
    return (
        Field("action", ("string",), required=create, schema=enum(ACTIONS)),
        Field("name", ("string",), required=create, schema={"pattern": NAME.pattern}),
        Field("description", ("string",), schema=_TEXT, nullable=True),
        Field("reason", ("string",), schema=_TEXT, nullable=True),
        Field("filterCriteria", ("object",), required=create, schema=FILTER_CRITERIA),
        Field(
            "tags",
            ("object",),
            nullable=True,
            schema={
                "maxProperties": MAX_TAGS,
                "propertyNames": {"minLength": 1, "maxLength": 128},
                "additionalProperties": {"type": "string", "maxLength": 256},
            },
        ),
        Field(
            "expiresAt",
            ("string", "number"),
            nullable=True,
            schema={
                "anyOf": [{"type": "number", "minimum": 0, "maximum": 253402300799}, EPOCH_OR_ISO]
            },
            description="Epoch seconds or ISO 8601, in the future (null: never expires)",
        ),
    )


BODIES[("POST", "/api/v1/suppression-rules")] = Shape(
    _rule_fields(create=True),
    closed=True,
    constraints=_SUPPRESSIBLE,
    constraints_message=_SUPPRESSIBLE_MESSAGE,
)
BODIES[("PUT", "/api/v1/suppression-rules/{ref:path}")] = Shape(
    _rule_fields(create=False),
    closed=True,
    constraints=_SUPPRESSIBLE,
    constraints_message=_SUPPRESSIBLE_MESSAGE,
)
_PULL_POLICY = Shape(
    (
        Field("enabled", ("boolean",), nullable=True),
        Field(
            "severityThreshold",
            ("string",),
            schema=enum(SEVERITY_RANK),
            message=f"severityThreshold must be one of {', '.join(SEVERITY_RANK)}",
            nullable=True,
        ),
        Field("blockExploitable", ("boolean",), nullable=True),
        Field("requireScan", ("boolean",), nullable=True),
        Field(
            "maxScanAgeHours",
            ("integer",),
            schema={"minimum": 1, "maximum": MAX_SCAN_AGE_HOURS},
            nullable=True,
        ),
    ),
    closed=True,
)
BODIES[("PUT", "/api/v1/pull-policy")] = _PULL_POLICY
BODIES[("PUT", "/api/v1/repositories/{name:path}/pull-policy")] = _PULL_POLICY
BODIES[("POST", "/api/v1/pull-allowances")] = Shape(
    (
        Field("repositoryName", ("string",), required=True, schema=REPOSITORY_NAME),
        Field(
            "imageDigest",
            ("string",),
            required=True,
            schema=DIGEST,
            message="imageDigest must be a sha256 digest (sha256:<64 hex digits>)",
        ),
        Field(
            "reason", ("string",), required=True, schema={"pattern": "\\S", "maxLength": MAX_REASON}
        ),
        Field(
            "expiresAt",
            ("string", "number"),
            required=True,
            schema=EPOCH_OR_TIME,
            description=f"Epoch seconds or ISO 8601, in the future, within {MAX_ALLOWANCE_DAYS} days",
        ),
    ),
    closed=True,
)
