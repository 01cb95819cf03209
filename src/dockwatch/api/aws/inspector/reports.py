"""Inspector2 CreateFindingsReport, GetFindingsReportStatus and CancelFindingsReport.

A report is the findings the caller sees (itself, and its members when it is the delegated
administrator) meeting `filterCriteria`, as CSV (dockwatch's CSV export: one row per finding and
package) or JSON (`{"findings": [...]}` of Inspector `Finding`s), written to the local folder
`Settings.effective_reports_dir` / `<bucketName>` / `<keyPrefix>` / `<reportId>.<csv|json>`.
Reports are written before CreateFindingsReport answers, so a status is SUCCEEDED (or FAILED
with NO_FINDINGS_FOUND, as Inspector answers a report of nothing) and there is nothing left to
cancel. `kmsKeyArn` is recorded and returned, not applied: the files are not encrypted.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.findings.criteria import parse_criteria
from dockwatch.queries.listing import list_findings_in, parse_sort
from dockwatch.reports.common import ExportContext
from dockwatch.reports.findings.formats import lookup

from .common import blocking, not_found, operation, validation, visible_tenants

MAX_REPORT = 100_000
"""Findings one report may hold (a larger query should be narrowed by its filters)."""
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
"""S3's bucket name rules (3-63 lowercase letters, digits, dots, hyphens)."""
_STATUS_DIR = ".reports"
"""Where report statuses are kept, beside the bucket folders (no bucket name starts with a dot)."""
_FORMATS = {"CSV": ("csv", "csv"), "JSON": ("json", "json")}


def destination(body: dict[str, Any]) -> dict[str, Any]:
    """The validated `s3Destination` (a bucket name and key prefix safe as folder names)."""
    dest = body.get("s3Destination")
    if not isinstance(dest, dict):
        raise validation("s3Destination is required")
    bucket = dest.get("bucketName")
    if not isinstance(bucket, str) or not _BUCKET.match(bucket) or ".." in bucket:
        raise validation(f"s3Destination.bucketName: {bucket!r} is not a valid bucket name")
    prefix = dest.get("keyPrefix") or ""
    if not isinstance(prefix, str) or prefix.startswith("/") or ".." in prefix.split("/"):
        raise validation("s3Destination.keyPrefix must be a relative key prefix without '..'")
    if not isinstance(dest.get("kmsKeyArn"), str) or not dest["kmsKeyArn"]:
        raise validation("s3Destination.kmsKeyArn is required")
    return {k: v for k, v in dest.items() if k in ("bucketName", "keyPrefix", "kmsKeyArn",
                                                    "expectedBucketOwner")}  # fmt: skip


def status_path(root: Path, report_id: str) -> Path:
    """Where a report's status is kept (ResourceNotFoundException for an id never issued)."""
    if not re.fullmatch(r"[0-9a-f-]{36}", report_id):
        raise not_found(f"no report {report_id}")
    return root / _STATUS_DIR / f"{report_id}.json"


def _collect(ctx: AwsContext, criteria: Any) -> list[dict[str, Any]]:
    sort = parse_sort(None, None)
    tenants = visible_tenants(ctx)
    out: list[dict[str, Any]] = []
    token: str | None = None
    with ctx.services.store.read() as uow:
        while True:
            page = list_findings_in(uow.finding_queries, tenants, criteria, sort, 1000, token)
            out += [{k: v for k, v in f.items() if k != "evidence"} for f in page.findings]
            if len(out) > MAX_REPORT:
                raise validation(f"the filters match more than {MAX_REPORT} findings")
            token = page.next_token
            if not token:
                return out


def _render(findings: list[dict[str, Any]], report_format: str) -> str:
    if report_format == "JSON":
        return json.dumps({"findings": findings}, indent=1, sort_keys=True)
    return lookup("csv").renderer()(findings, ExportContext())


@operation
async def create_findings_report(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """CreateFindingsReport: `reportFormat` CSV or JSON, `filterCriteria`, `s3Destination`."""
    report_format = body.get("reportFormat")
    if report_format not in _FORMATS:
        raise validation(f"reportFormat must be CSV or JSON, not {report_format!r}")
    raw = body.get("filterCriteria") or {}
    criteria = parse_criteria(raw)
    dest = destination(body)
    root = ctx.services.settings.effective_reports_dir

    def run() -> dict[str, Any]:
        report_id = str(uuid.uuid4())
        findings = _collect(ctx, criteria)
        status: dict[str, Any] = {
            "reportId": report_id, "status": "SUCCEEDED", "destination": dest,
            "filterCriteria": raw, "owner": ctx.tenant.account_id, "region": ctx.tenant.region,
        }  # fmt: skip
        if findings:
            folder = root / dest["bucketName"] / (dest.get("keyPrefix") or "")
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{report_id}.{_FORMATS[report_format][1]}"
            target.write_text(_render(findings, report_format), encoding="utf-8")
        else:
            status.update(status="FAILED", errorCode="NO_FINDINGS_FOUND",
                          errorMessage="no finding meets the filter criteria")  # fmt: skip
        path = status_path(root, report_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(status), encoding="utf-8")
        return {"reportId": report_id}

    return await blocking(run)


def read_status(ctx: AwsContext, report_id: Any) -> dict[str, Any]:
    """The stored status of one of the caller's reports or exports."""
    if not isinstance(report_id, str):
        raise validation("reportId is required")
    path = status_path(ctx.services.settings.effective_reports_dir, report_id)
    if not path.is_file():
        raise not_found(f"no report {report_id}")
    status: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if (status.get("owner"), status.get("region")) != (ctx.tenant.account_id, ctx.tenant.region):
        raise not_found(f"no report {report_id}")
    return status


@operation
async def get_findings_report_status(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """GetFindingsReportStatus: the caller's own reports only."""
    status = await blocking(read_status, ctx, body.get("reportId"))
    return {k: v for k, v in status.items() if k not in ("owner", "region")}


@operation
async def cancel_findings_report(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """CancelFindingsReport: a report is finished when it is created, so there is never one in
    progress to cancel (ValidationException)."""
    status = await blocking(read_status, ctx, body.get("reportId"))
    raise validation(f"report {status['reportId']} is {status['status']}: only a report in "
                     "progress can be cancelled")  # fmt: skip


OPERATIONS: dict[str, Handler] = {
    "CreateFindingsReport": create_findings_report,
    "GetFindingsReportStatus": get_findings_report_status,
    "CancelFindingsReport": cancel_findings_report,
}
