"""Contracts of the findings operations: listing (query and body forms), one finding, an image's
findings by layer, aggregations, exports and suppression rules."""

from __future__ import annotations

from dockwatch.findings.criteria import ENUM_VALUES, MAX_FILTERS
from dockwatch.findings.suppression_rule import ACTIONS
from dockwatch.model.finding_aggregation import MAX_RESULTS as AGGREGATION_MAX
from dockwatch.model.finding_criteria import (
    DATE_KEYS,
    NUMBER_KEYS,
    SEVERITIES,
    STATUSES,
    STRING_KEYS,
)
from dockwatch.model.finding_sort import SortField, SortOrder
from dockwatch.queries.aggregation_request import MEMBERS, OTHER_MEMBERS
from dockwatch.queries.listing import MAX_RESULTS as LISTING_MAX
from dockwatch.reports.findings.formats import FORMATS as EXPORT_FORMATS

from ..openapi import Contract, Param
from .common import (
    ANY_OBJECT,
    EPOCH_OR_ISO,
    IMAGE_PARAMS,
    INTEGER,
    NEXT_TOKEN,
    NUMBER,
    OPTIONAL_STRING,
    OPTIONAL_TIME,
    STRING,
    array,
    enum,
    max_results,
    obj,
)

FINDING = obj(
    {
        "findingArn": STRING,
        "awsAccountId": STRING,
        "type": STRING,
        "severity": enum(SEVERITIES),
        "status": enum(STATUSES),
    },
    {
        "title": OPTIONAL_STRING,
        "description": OPTIONAL_STRING,
        "firstObservedAt": OPTIONAL_TIME,
        "lastObservedAt": OPTIONAL_TIME,
        "updatedAt": OPTIONAL_TIME,
        "inspectorScore": {"type": ["number", "null"]},
        "fixAvailable": OPTIONAL_STRING,
        "exploitAvailable": OPTIONAL_STRING,
        "packageVulnerabilityDetails": ANY_OBJECT,
        "resources": array(ANY_OBJECT),
    },
)
FINDINGS_PAGE = obj({"findings": array(FINDING)}, {"nextToken": STRING})


QUERY_FILTER = "^!?(?!\\\\?\\*$)(?!\\\\$)[^!\\u0000][^\\u0000]*$"
"""A string filter as a query value: `v`, `!v` (NOT_EQUALS), `v*` (PREFIX), `\\!`/`\\*` for the
characters; the value left after the markers is never empty."""


def _criteria_params() -> tuple[Param, ...]:
    """ListFindings' criteria as query parameters (`queries.criteria_query`): one per string key
    (`!v` excludes, `v*` is a prefix; repeatable), dates as `<key>From`/`<key>To`, numbers as
    `<key>Min`/`<key>Max`, packages as `package<Field>`."""
    out: list[Param] = []
    for key in STRING_KEYS:
        values = ENUM_VALUES.get(key)
        if values is None:
            schema = {
                "type": "string",
                "minLength": 1,
                "maxLength": 1024,
                "pattern": QUERY_FILTER,
            }
        else:
            schema = {"type": "string", "pattern": "^!?(" + "|".join(values) + ")$"}
        out.append(
            Param(
                key,
                schema,
                f"{key} (`!v`: not v; `v*`: starts with v)",
                repeats=True,
                most=MAX_FILTERS,
            )
        )
    time = EPOCH_OR_ISO
    for key in DATE_KEYS:
        out += [Param(f"{key}From", time, f"{key} at or after"), Param(f"{key}To", time)]
    for key in NUMBER_KEYS:
        out += [Param(f"{key}Min", NUMBER, f"{key} at least"), Param(f"{key}Max", NUMBER)]
    word = {
        "type": "string",
        "minLength": 1,
        "maxLength": 1024,
        "pattern": QUERY_FILTER,
    }
    for name in ("Name", "Version", "Release", "Architecture", "SourceLayerHash", "FilePath"):
        out.append(
            Param(f"package{name}", word, f"A vulnerable package's {name[0].lower()}{name[1:]}")
        )
    return tuple(out)


CRITERIA_PARAMS = _criteria_params()
SORT_PARAMS = (
    Param("sortBy", enum(SortField), "Sort field (default SEVERITY)"),
    Param("sortOrder", enum(SortOrder), "ASC or DESC (default DESC)"),
)
AGGREGATION_TYPES = [*MEMBERS, *OTHER_MEMBERS]
AGGREGATIONS = obj(
    {"aggregationType": enum(AGGREGATION_TYPES), "responses": array(ANY_OBJECT)},
    {"nextToken": STRING},
)
RULE = obj(
    {
        "arn": STRING,
        "id": STRING,
        "ownerId": STRING,
        "name": STRING,
        "criteria": ANY_OBJECT,
        "action": enum(ACTIONS),
        "createdAt": OPTIONAL_TIME,
        "updatedAt": OPTIONAL_TIME,
        "tags": {"type": "object", "additionalProperties": STRING},
        "expiresAt": OPTIONAL_TIME,
        "state": enum(["IN_FORCE", "EXPIRED", "SAVED_FILTER"]),
    },
    {"description": STRING, "reason": STRING, "findingsChanged": INTEGER},
)
RULE_PARAM = Param("ref", {"type": "string", "minLength": 1}, "A rule's id or ARN", where="path")
EXPORT_MEDIA = tuple(dict.fromkeys(f.media_type for f in EXPORT_FORMATS.values()))
EXPORT_FORMAT = Param("format", enum(EXPORT_FORMATS), "The export format (default json)")

CONTRACTS: dict[tuple[str, str], Contract] = {
    ("GET", "/api/v1/findings"): Contract(
        FINDINGS_PAGE,
        params=(*CRITERIA_PARAMS, *SORT_PARAMS, max_results(LISTING_MAX), NEXT_TOKEN),
        open_query=True,  # also `filterCriteria` as JSON; the criteria parser names unknowns
    ),
    ("POST", "/api/v1/findings/list"): Contract(FINDINGS_PAGE),
    ("GET", "/api/v1/repositories/{name:path}/images/{reference}/findings/by-layer"): Contract(
        obj(
            {
                "repositoryName": STRING,
                "imageDigest": STRING,
                "layers": array(
                    obj(
                        {
                            "layerDigest": OPTIONAL_STRING,
                            "layerIndex": {"type": ["integer", "null"]},
                            "findingSeverityCounts": {
                                "type": "object",
                                "additionalProperties": INTEGER,
                            },
                            "findingCount": INTEGER,
                            "findings": array(FINDING),
                        }
                    )
                ),
            }
        ),
        params=CRITERIA_PARAMS,
        path_params=IMAGE_PARAMS,
        open_query=True,
    ),
    ("GET", "/api/v1/findings/{findingId:path}"): Contract(
        FINDING,
        path_params=(
            Param("findingId", {"type": "string", "minLength": 1}, "Id or ARN", where="path"),
        ),
    ),
    ("GET", "/api/v1/findings/aggregations"): Contract(
        AGGREGATIONS,
        params=(
            Param("type", enum(AGGREGATION_TYPES), "The aggregationType (default ACCOUNT)"),
            Param("sortOrder", enum(SortOrder), "ASC or DESC"),
            max_results(AGGREGATION_MAX),
            NEXT_TOKEN,
        ),
        open_query=True,  # filter lists and criteria by name (`queries.aggregation_request`)
    ),
    ("POST", "/api/v1/findings/aggregations/list"): Contract(AGGREGATIONS),
    ("GET", "/api/v1/findings/export"): Contract(
        ANY_OBJECT,
        params=(EXPORT_FORMAT, *CRITERIA_PARAMS),
        media=EXPORT_MEDIA,
        open_query=True,
    ),
    ("GET", "/api/v1/repositories/{name:path}/images/{reference}/findings/export"): Contract(
        ANY_OBJECT, params=(EXPORT_FORMAT,), path_params=IMAGE_PARAMS, media=EXPORT_MEDIA
    ),
    ("GET", "/api/v1/suppression-rules"): Contract(
        obj({"filters": array(RULE)}, {"nextToken": STRING}),
        params=(
            Param("action", enum(ACTIONS), "Only rules with this action"),
            Param(
                "arns",
                {"type": "string", "minLength": 1, "maxLength": 128},  # AWS's FilterArn
                "Only these rules",
                repeats=True,
                most=100,
            ),
            max_results(100),
            NEXT_TOKEN,
        ),
    ),
    ("POST", "/api/v1/suppression-rules"): Contract(RULE, errors=(409,)),
    ("GET", "/api/v1/suppression-rules/{ref:path}"): Contract(RULE, path_params=(RULE_PARAM,)),
    ("PUT", "/api/v1/suppression-rules/{ref:path}"): Contract(
        RULE, path_params=(RULE_PARAM,), errors=(409,)
    ),
    ("DELETE", "/api/v1/suppression-rules/{ref:path}"): Contract(
        obj({"arn": STRING, "findingsChanged": INTEGER}), path_params=(RULE_PARAM,)
    ),
}
