"""Contracts of the pull policies, per-image pull allowances and the audit log."""

from __future__ import annotations

from dockwatch.audit.log import MAX_RESULTS as AUDIT_MAX
from dockwatch.pullpolicy.service import MAX_LIST as ALLOWANCES_MAX

from ..openapi import Contract, Param
from .common import (
    BOOLEAN,
    INTEGER,
    ISO_TIME,
    NAME_PARAM,
    NEXT_TOKEN,
    OPTIONAL_STRING,
    OPTIONAL_TIME,
    REPOSITORY_NAME,
    STRING,
    array,
    enum,
    max_results,
    obj,
)

POLICY = obj(
    {"scope": enum(["REGISTRY", "REPOSITORY"])},
    {
        "repositoryName": OPTIONAL_STRING,
        "enabled": BOOLEAN,
        "severityThreshold": OPTIONAL_STRING,
        "blockExploitable": BOOLEAN,
        "requireScan": BOOLEAN,
        "maxScanAgeHours": {"type": ["integer", "null"]},
        "updatedAt": OPTIONAL_TIME,
    },
)
DELETED_POLICY = obj({"scope": enum(["REGISTRY", "REPOSITORY"]), "deleted": BOOLEAN})
ALLOWANCE = obj(
    {
        "allowanceId": STRING,
        "repositoryName": STRING,
        "imageDigest": STRING,
        "reason": STRING,
        "expiresAt": OPTIONAL_TIME,
        "createdAt": OPTIONAL_TIME,
        "expired": BOOLEAN,
    }
)
ALLOWANCE_ID = Param("id", STRING, "The allowance id", where="path", required=True)
AUDIT_EVENT = obj(
    {
        "eventId": STRING,
        "eventTime": OPTIONAL_TIME,
        "action": STRING,
        "status": INTEGER,
        "outcome": enum(["SUCCEEDED", "DENIED", "FAILED"]),
    },
    {
        "principal": OPTIONAL_STRING,
        "sourceAddress": OPTIONAL_STRING,
        "resource": OPTIONAL_STRING,
        "errorCode": OPTIONAL_STRING,
    },
)
_REPO = "/api/v1/repositories/{name:path}/pull-policy"
_TEXT = {"type": "string", "maxLength": 1024}

CONTRACTS: dict[tuple[str, str], Contract] = {
    ("GET", "/api/v1/pull-policy"): Contract(POLICY, errors=(404,)),
    ("PUT", "/api/v1/pull-policy"): Contract(POLICY),
    ("DELETE", "/api/v1/pull-policy"): Contract(DELETED_POLICY, errors=(404,)),
    ("GET", _REPO): Contract(POLICY, path_params=(NAME_PARAM,), errors=(404,)),
    ("PUT", _REPO): Contract(POLICY, path_params=(NAME_PARAM,), errors=(404,)),
    ("DELETE", _REPO): Contract(DELETED_POLICY, path_params=(NAME_PARAM,), errors=(404,)),
    ("GET", "/api/v1/pull-allowances"): Contract(
        obj({"allowances": array(ALLOWANCE)}, {"nextToken": STRING}),
        params=(
            Param("repositoryName", REPOSITORY_NAME, "Only this repository's allowances"),
            max_results(ALLOWANCES_MAX),
            NEXT_TOKEN,
        ),
    ),
    ("POST", "/api/v1/pull-allowances"): Contract(ALLOWANCE),
    ("GET", "/api/v1/pull-allowances/{id}"): Contract(
        ALLOWANCE, path_params=(ALLOWANCE_ID,), errors=(404,)
    ),
    ("DELETE", "/api/v1/pull-allowances/{id}"): Contract(
        obj({"allowanceId": STRING}), path_params=(ALLOWANCE_ID,), errors=(404,)
    ),
    ("GET", "/api/v1/audit"): Contract(
        obj({"auditEvents": array(AUDIT_EVENT)}, {"nextToken": STRING}),
        params=(
            Param("principal", _TEXT, "Only this principal"),
            Param("action", _TEXT, "Only this action"),
            Param("resource", _TEXT, "Only resources under this path prefix"),
            Param("since", ISO_TIME, "At or after (ISO 8601)"),
            Param("until", ISO_TIME, "At or before (ISO 8601)"),
            max_results(AUDIT_MAX),
            NEXT_TOKEN,
        ),
    ),
}
