"""Contracts of the registry and scanning operations: repositories, images, SBOMs, the
vulnerability database, scanning configuration, re-scan duration and coverage."""

from __future__ import annotations

from dockwatch.model.coverage_criteria import DATE_KEYS, MAP_KEYS, NUMBER_KEYS, STRING_KEYS
from dockwatch.queries.coverage import MAX_RESULTS as COVERAGE_MAX
from dockwatch.queries.coverage_criteria import ENUMS as COVERAGE_ENUMS
from dockwatch.reports.sbom import FORMATS as SBOM_FORMATS
from dockwatch.scan.config import ScanFrequency, ScanType
from dockwatch.scan.duration import PULL_DATE_DURATIONS, RESCAN_DURATIONS, PullDateMode

from ..openapi import Contract, Param
from .common import (
    ANY_OBJECT,
    BOOLEAN,
    CLEAN_TEXT,
    DATE_FILTER,
    IMAGE_PARAMS,
    INTEGER,
    ISO_TIME,
    NAME_PARAM,
    NEXT_TOKEN,
    OPTIONAL_STRING,
    OPTIONAL_TIME,
    STRING,
    Schema,
    array,
    enum,
    filters,
    max_results,
    obj,
)

SCAN_ON_PUSH = obj({"scanOnPush": BOOLEAN})


def _coverage_string(key: str) -> Schema:
    """A CoverageStringFilter: EQUALS or NOT_EQUALS (the model allows no PREFIX)."""
    value = enum(COVERAGE_ENUMS[key]) if key in COVERAGE_ENUMS else CLEAN_TEXT
    return obj({"comparison": enum(["EQUALS", "NOT_EQUALS"]), "value": value}, closed=True)


COVERAGE_CRITERIA: Schema = obj(
    optional={
        **{key: filters(_coverage_string(key)) for key in STRING_KEYS},
        **{key: filters(DATE_FILTER) for key in DATE_KEYS},
        **{
            key: filters(
                obj(optional={"lowerInclusive": INTEGER, "upperInclusive": INTEGER}, closed=True)
            )
            for key in NUMBER_KEYS
        },
        **{
            key: filters(
                obj(
                    {"comparison": enum(["EQUALS"]), "key": CLEAN_TEXT},
                    {"value": CLEAN_TEXT},
                    closed=True,
                )
            )
            for key in MAP_KEYS
        },
    },
    closed=True,
)
"""Inspector's CoverageFilterCriteria, every key with the filter shape the model gives it."""

REPOSITORY = obj(
    {
        "repositoryName": STRING,
        "repositoryArn": STRING,
        "registryId": STRING,
        "createdAt": OPTIONAL_TIME,
        "imageTagMutability": STRING,
        "imageScanningConfiguration": SCAN_ON_PUSH,
    }
)
IMAGE_DETAIL = obj(
    {
        "registryId": STRING,
        "repositoryName": STRING,
        "imageDigest": STRING,
        "imageTags": array(STRING),
        "imageSizeInBytes": INTEGER,
        "imagePushedAt": OPTIONAL_TIME,
        "lastPushedAt": OPTIONAL_TIME,
        "lastRecordedPullTime": OPTIONAL_TIME,
        "imageManifestMediaType": STRING,
        "artifactMediaType": OPTIONAL_STRING,
        "subjectManifestDigest": OPTIONAL_STRING,
    }
)
DB_SOURCE = obj(
    {
        "name": STRING,
        "kind": STRING,
        "advisories": INTEGER,
        "updatedAt": OPTIONAL_TIME,
        "lastSuccessAt": OPTIONAL_TIME,
        "lastAttemptAt": OPTIONAL_TIME,
        "lastError": OPTIONAL_STRING,
        "lastErrorAt": OPTIONAL_TIME,
        "ageSeconds": {"type": ["integer", "null"]},
        "stale": BOOLEAN,
    }
)
WILDCARD_FILTER = obj({"filter": STRING, "filterType": enum(["WILDCARD"])})
SCANNING_CONFIGURATION = obj(
    {
        "scanType": enum(ScanType),
        "rules": array(
            obj(
                {
                    "scanFrequency": enum(ScanFrequency),
                    "repositoryFilters": array(WILDCARD_FILTER),
                }
            )
        ),
    }
)
ECR_CONFIGURATION = obj(
    {"rescanDuration": enum(RESCAN_DURATIONS)},
    {
        "pullDateRescanDuration": enum(PULL_DATE_DURATIONS),
        "pullDateRescanMode": enum(PullDateMode),
    },
)
RESCAN_DURATION_STATE = obj(
    {
        "rescanDuration": enum(RESCAN_DURATIONS),
        "status": enum(["SUCCESS", "PENDING", "FAILED"]),
    },
    {
        "pullDateRescanDuration": enum(PULL_DATE_DURATIONS),
        "pullDateRescanMode": enum(PullDateMode),
        "updatedAt": OPTIONAL_TIME,
    },
)
SCAN_STATUS = obj({"status": STRING}, {"description": OPTIONAL_STRING})
IMAGE_ID = obj({"imageDigest": STRING}, {"imageTag": OPTIONAL_STRING})
IMAGE_SCAN_FINDINGS = obj(
    {"registryId": STRING, "repositoryName": STRING, "imageId": IMAGE_ID},
    {
        "imageScanStatus": SCAN_STATUS,
        "imageScanFindings": obj(
            optional={
                "imageScanCompletedAt": OPTIONAL_TIME,
                "findingSeverityCounts": {
                    "type": "object",
                    "additionalProperties": INTEGER,
                },
                "findings": array(ANY_OBJECT),
                "enhancedFindings": array(ANY_OBJECT),
            }
        ),
        "platforms": array(ANY_OBJECT),
    },
)
COVERED_RESOURCE = obj(
    {
        "accountId": STRING,
        "resourceId": STRING,
        "resourceType": enum(["AWS_ECR_CONTAINER_IMAGE", "AWS_ECR_REPOSITORY"]),
        "scanType": STRING,
        "scanStatus": obj({"statusCode": STRING, "reason": STRING}),
    },
    {"lastScannedAt": OPTIONAL_TIME, "resourceMetadata": ANY_OBJECT},
)
_QUERY_TEXT: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 1024,
    "pattern": "^[^!\\\\\\x00][^\\x00]*$",
}
"""A value that selects (a leading `!` excludes, a leading backslash escapes a `!`: the schema
leaves both forms out; a NUL is refused, as in every criteria value)."""
COVERAGE_PAGE = obj({"coveredResources": array(COVERED_RESOURCE)}, {"nextToken": STRING})
COVERAGE_STATISTICS = obj(
    {"totalCounts": INTEGER},
    {"countsByGroup": array(obj({"count": INTEGER, "groupKey": STRING}))},
)
SCANNING_CONFIGURATIONS = obj(
    {
        "scanningConfigurations": array(
            obj(
                {
                    "repositoryArn": STRING,
                    "repositoryName": STRING,
                    "scanOnPush": BOOLEAN,
                    "scanFrequency": enum(ScanFrequency),
                    "appliedScanFilters": array(WILDCARD_FILTER),
                }
            )
        ),
        "failures": array(
            obj(
                {
                    "repositoryName": STRING,
                    "failureCode": enum(["REPOSITORY_NOT_FOUND"]),
                    "failureReason": STRING,
                }
            )
        ),
    }
)


CONTRACTS: dict[tuple[str, str], Contract] = {
    ("GET", "/api/v1/repositories"): Contract(obj({"repositories": array(REPOSITORY)})),
    ("GET", "/api/v1/repositories/{name:path}/images"): Contract(
        obj({"imageDetails": array(IMAGE_DETAIL)}), path_params=(NAME_PARAM,)
    ),
    ("GET", "/api/v1/repositories/{name:path}/images/{reference}/sbom"): Contract(
        ANY_OBJECT,
        params=(
            Param("format", enum(SBOM_FORMATS), "The SBOM format (default json)"),
            Param(
                "platform",
                {"type": "string", "pattern": "^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$"},
                "os/architecture[/variant] of an index's image",
            ),
        ),
        path_params=IMAGE_PARAMS,
        media=(
            "application/json",
            "application/vnd.cyclonedx+json; version=1.6",
            "application/spdx+json",
        ),
    ),
    ("GET", "/api/v1/db/status"): Contract(
        obj(
            {
                "version": {"type": ["integer", "string", "null"]},
                "builtAt": OPTIONAL_TIME,
                "advisories": INTEGER,
                "sources": array(DB_SOURCE),
            }
        )
    ),
    ("GET", "/api/v1/registry/scanning-configuration"): Contract(
        obj({"registryId": STRING, "scanningConfiguration": SCANNING_CONFIGURATION})
    ),
    ("PUT", "/api/v1/registry/scanning-configuration"): Contract(
        obj({"registryScanningConfiguration": SCANNING_CONFIGURATION})
    ),
    ("POST", "/api/v1/registry/scanning-configuration/preview"): Contract(
        obj(
            {
                "scanType": enum(ScanType),
                "repositories": array(
                    obj(
                        {
                            "repositoryName": STRING,
                            "scanFrequency": enum(ScanFrequency),
                            "scanned": BOOLEAN,
                            "appliedScanFilters": array(WILDCARD_FILTER),
                        }
                    )
                ),
            }
        )
    ),
    ("POST", "/api/v1/repositories/{name:path}/images/{reference}/scan"): Contract(
        obj(
            {
                "registryId": STRING,
                "repositoryName": STRING,
                "imageId": IMAGE_ID,
                "imageScanStatus": SCAN_STATUS,
            }
        ),
        path_params=IMAGE_PARAMS,
        errors=(409,),  # the registry scans ENHANCED: manual scans are a basic-scanning feature
    ),
    ("GET", "/api/v1/coverage"): Contract(
        COVERAGE_PAGE,
        params=(
            Param(
                "repositoryName",
                _QUERY_TEXT,
                "Only these repositories (`!name` excludes)",
                repeats=True,
            ),
            Param(
                "scanStatusCode",
                enum(["ACTIVE", "INACTIVE", "!ACTIVE", "!INACTIVE"]),
                "Only this status (`!code` excludes)",
                repeats=True,
            ),
            Param(
                "scanStatusReason",
                _QUERY_TEXT,
                "Only these reasons (`!reason` excludes)",
                repeats=True,
            ),
            Param("lastScannedAtFrom", ISO_TIME, "Scanned at or after (ISO 8601)"),
            Param("lastScannedAtTo", ISO_TIME, "Scanned at or before (ISO 8601)"),
            max_results(COVERAGE_MAX),
            NEXT_TOKEN,
        ),
        # every CoverageFilterCriteria key is a parameter; the handler names any it refuses
        open_query=True,
    ),
    ("POST", "/api/v1/coverage/list"): Contract(COVERAGE_PAGE),
    ("POST", "/api/v1/coverage/statistics/list"): Contract(COVERAGE_STATISTICS),
    ("POST", "/api/v1/repositories/scanning-configuration/batch-get"): Contract(
        SCANNING_CONFIGURATIONS
    ),
    ("GET", "/api/v1/configuration"): Contract(
        obj({"ecrConfiguration": obj({"rescanDurationState": RESCAN_DURATION_STATE})})
    ),
    ("PUT", "/api/v1/configuration"): Contract(obj({"ecrConfiguration": ECR_CONFIGURATION})),
    ("PUT", "/api/v1/repositories/{name:path}/scanning-configuration"): Contract(
        obj(
            {
                "registryId": STRING,
                "repositoryName": STRING,
                "imageScanningConfiguration": SCAN_ON_PUSH,
            }
        ),
        path_params=(NAME_PARAM,),
    ),
    ("GET", "/api/v1/repositories/{name:path}/images/{reference}/findings"): Contract(
        IMAGE_SCAN_FINDINGS, path_params=IMAGE_PARAMS
    ),
}
