"""The request body of every /api/v1 operation that takes one, as a `Shape` per (method, path).

The router reads and checks a body against its shape before the handler runs; an operation
missing from this table takes no body. Field types follow what the domain parsers accept (a
`maxResults` may be a number or a numeric string, as in the query-string forms).
"""

from __future__ import annotations

from .body import Field, Shape

_RESULTS = ("integer", "string")

SCANNING_CONFIGURATION = Shape((Field("scanType", ("string",)), Field("rules", ("array",))))

BODIES: dict[tuple[str, str], Shape] = {
    ("PUT", "/api/v1/registry/scanning-configuration"): SCANNING_CONFIGURATION,
    ("POST", "/api/v1/registry/scanning-configuration/preview"): SCANNING_CONFIGURATION,
    ("PUT", "/api/v1/configuration"): Shape(
        (Field("ecrConfiguration", ("object",), required=True),)
    ),
    ("PUT", "/api/v1/repositories/{name:path}/scanning-configuration"): Shape(
        (Field("scanOnPush", ("boolean",), required=True),)
    ),
    ("POST", "/api/v1/findings/aggregations/list"): Shape(
        (
            Field("aggregationType", ("string",), required=True),
            Field("aggregationRequest", ("object",)),
            Field("maxResults", _RESULTS),
            Field("nextToken", ("string",)),
            Field("accountIds", ("array",)),
            Field("filterCriteria", ("object",)),
        )
    ),
    ("POST", "/api/v1/findings/list"): Shape(
        (
            Field("filterCriteria", ("object",)),
            Field("sortCriteria", ("object",)),
            Field("maxResults", _RESULTS),
            Field("nextToken", ("string",)),
        )
    ),
    ("POST", "/api/v1/coverage/list"): Shape(
        (
            Field("filterCriteria", ("object",)),
            Field("maxResults", _RESULTS),
            Field("nextToken", ("string",)),
        )
    ),
    ("POST", "/api/v1/coverage/statistics/list"): Shape(
        (
            Field("filterCriteria", ("object",)),
            Field("groupBy", ("string",)),
            Field("nextToken", ("string",)),
        )
    ),
    ("POST", "/api/v1/repositories/scanning-configuration/batch-get"): Shape(
        (Field("repositoryNames", ("array",), required=True),)
    ),
    ("POST", "/api/v1/webhooks"): Shape(
        (
            Field("url", ("string",), required=True),
            Field("secret", ("string",)),
            Field("eventTypes", ("array",)),
            Field("description", ("string",)),
            Field("insecureSkipVerify", ("boolean",)),
        )
    ),
}

_RULE_FIELDS = (
    Field("action", ("string",)),
    Field("name", ("string",)),
    Field("description", ("string",)),
    Field("reason", ("string",)),
    Field("filterCriteria", ("object",)),
    Field("tags", ("object",)),
    Field("expiresAt", ("string", "number")),
)
BODIES[("POST", "/api/v1/suppression-rules")] = Shape(_RULE_FIELDS)
BODIES[("PUT", "/api/v1/suppression-rules/{ref:path}")] = Shape(_RULE_FIELDS)

_PULL_POLICY = Shape(
    (
        Field("enabled", ("boolean",)),
        Field("severityThreshold", ("string",)),
        Field("blockExploitable", ("boolean",)),
        Field("requireScan", ("boolean",)),
        Field("maxScanAgeHours", ("integer",)),
    )
)
BODIES[("PUT", "/api/v1/pull-policy")] = _PULL_POLICY
BODIES[("PUT", "/api/v1/repositories/{name:path}/pull-policy")] = _PULL_POLICY
BODIES[("POST", "/api/v1/pull-allowances")] = Shape(
    (
        Field("repositoryName", ("string",), required=True),
        Field("imageDigest", ("string",), required=True),
        Field("reason", ("string",), required=True),
        Field("expiresAt", ("string", "number"), required=True),
    )
)
