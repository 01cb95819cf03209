"""Inspector2 ListFindings, BatchGetFindingDetails and ListFindingAggregations over the same
queries as `/api/v1`, across the accounts the caller sees (itself, and its members when it is
the delegated administrator)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.findings.criteria import parse_criteria
from dockwatch.model import page_token
from dockwatch.model.identity import Tenant
from dockwatch.queries import aggregations
from dockwatch.queries.listing import list_findings_in, parse_sort, shape

from .across import page_across, to_datetime
from .common import blocking, operation, validation, visible_tenants

MAX_FINDINGS = 100
"""ListFindings' `maxResults` bound in Inspector's model (dockwatch's own API allows 1000)."""
MAX_DETAILS = 10
"""BatchGetFindingDetails' `findingArns` bound."""
_EXTENSIONS = ("suppressedBy", "evidence")
"""dockwatch's additions to a Finding, left out of Inspector's answer."""
PACKAGE_MEMBERS = frozenset(
    {"name", "version", "sourceLayerHash", "epoch", "release", "arch", "packageManager",
     "filePath", "fixedInVersion", "remediation", "sourceLambdaLayerArn", "runtimeReachability",
     "runtimeReachabilityReason", "purl"}
)  # fmt: skip
"""Inspector's `VulnerablePackage` members (dockwatch's own, such as `sourceName`, stay out)."""


def _limit(body: dict[str, Any], bound: int, default: int) -> int:
    raw = body.get("maxResults")
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= bound:
        raise validation(f"maxResults must be a whole number from 1 to {bound}")
    return raw


def inspector_finding(finding: dict[str, Any]) -> dict[str, Any]:
    """A stored finding's Inspector shape with its times as datetimes and no extension."""
    out = {k: v for k, v in finding.items() if k not in _EXTENSIONS}
    for key in ("firstObservedAt", "lastObservedAt", "updatedAt"):
        if key in out:
            out[key] = to_datetime(out[key])
    for resource in out.get("resources") or []:
        image = (resource.get("details") or {}).get("awsEcrContainerImage") or {}
        for key in ("pushedAt", "lastInUseAt"):
            if image.get(key) is not None:
                image[key] = to_datetime(image[key])
    details = out.get("packageVulnerabilityDetails") or {}
    if details.get("vulnerablePackages"):
        details["vulnerablePackages"] = [
            {k: v for k, v in p.items() if k in PACKAGE_MEMBERS}
            for p in details["vulnerablePackages"]
        ]
    for key in ("vendorCreatedAt", "vendorUpdatedAt"):
        if details.get(key) is not None:
            details[key] = to_datetime(details[key])
    exploit = out.get("exploitabilityDetails") or {}
    if exploit.get("lastKnownExploitAt") is not None:
        exploit["lastKnownExploitAt"] = to_datetime(exploit["lastKnownExploitAt"])
    return out


@operation
async def list_findings(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """ListFindings: `filterCriteria`, `sortCriteria {field, sortOrder}` (default SEVERITY
    DESC), `maxResults` (1-100, default 100), `nextToken`."""
    criteria = parse_criteria(body.get("filterCriteria") or {})
    sort_doc = body.get("sortCriteria") or {}
    sort = parse_sort(sort_doc.get("field"), sort_doc.get("sortOrder"))
    limit = _limit(body, MAX_FINDINGS, MAX_FINDINGS)

    def run() -> dict[str, Any]:
        tenants = visible_tenants(ctx)
        with ctx.services.store.read() as uow:
            page = list_findings_in(
                uow.finding_queries, tenants, criteria, sort, limit, body.get("nextToken")
            )
        out: dict[str, Any] = {"findings": [inspector_finding(f) for f in page.findings]}
        if page.next_token:
            out["nextToken"] = page.next_token
        return out

    return await blocking(run)


def _parse_finding_arn(arn: str) -> tuple[Tenant, str] | None:
    """(tenant, finding id) of `arn:aws:inspector2:<region>:<account>:finding/<id>`."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "inspector2"]:
        return None
    region, account, rest = parts[3], parts[4], parts[5]
    if not rest.startswith("finding/") or not rest[8:] or len(rest[8:]) > 64:
        return None
    return Tenant(account, region), rest[8:]


def _details(finding: dict[str, Any], arn: str) -> dict[str, Any]:
    """Inspector's FindingDetail of one finding: what dockwatch keeps of it (EPSS, references,
    the CISA KEV listing when the exploit flag comes from it)."""
    vuln = finding.get("packageVulnerabilityDetails") or {}
    out: dict[str, Any] = {"findingArn": arn}
    score = (finding.get("epss") or {}).get("score")
    if score is not None:
        out["epssScore"] = score
    if vuln.get("referenceUrls"):
        out["referenceUrls"] = list(vuln["referenceUrls"])
    exploit = finding.get("exploitabilityDetails") or {}
    if exploit.get("lastKnownExploitAt"):
        out["exploitObserved"] = {"lastSeen": to_datetime(exploit["lastKnownExploitAt"])}
    return out


@operation
async def batch_get_finding_details(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """BatchGetFindingDetails: each ARN's details, or an error entry (INVALID_INPUT for an ARN
    that is not a finding ARN, FINDING_DETAILS_NOT_FOUND for one the caller does not see)."""
    arns = body.get("findingArns")
    if not isinstance(arns, list) or not 1 <= len(arns) <= MAX_DETAILS:
        raise validation(f"findingArns must hold 1 to {MAX_DETAILS} finding ARNs")

    def run() -> dict[str, Any]:
        visible = set(visible_tenants(ctx))
        found: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with ctx.services.store.read() as uow:
            for arn in arns:
                parsed = _parse_finding_arn(arn) if isinstance(arn, str) else None
                if parsed is None:
                    errors.append({"findingArn": str(arn), "errorCode": "INVALID_INPUT",
                                   "errorMessage": "not a finding ARN"})  # fmt: skip
                    continue
                tenant, finding_id = parsed
                row = uow.finding_queries.get_finding(tenant, finding_id)
                if tenant not in visible or row is None:
                    errors.append({"findingArn": arn, "errorCode": "FINDING_DETAILS_NOT_FOUND",
                                   "errorMessage": "no such finding"})  # fmt: skip
                    continue
                found.append(_details(shape(tenant, [row])[0], arn))
        return {"findingDetails": found, "errors": errors}

    return await blocking(run)


@operation
async def list_finding_aggregations(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """ListFindingAggregations: every type `/api/v1` computes (REPOSITORY, AWS_ECR_CONTAINER,
    IMAGE_LAYER, PACKAGE, TITLE, FINDING_TYPE, ACCOUNT); the other types answer no responses.
    Across several accounts the groups come account by account, each account's in `sortBy`
    order."""
    request = {k: v for k, v in body.items() if k not in ("maxResults", "nextToken")}
    query = aggregations.parse_request(request)
    limit = _limit(body, aggregations.MAX_RESULTS, aggregations.MAX_RESULTS)
    bound = page_token.request_digest({"op": "aws:ListFindingAggregations", "r": request})

    def run() -> dict[str, Any]:
        tenants = visible_tenants(ctx)

        def fetch(tenant: Tenant, inner: str | None, room: int) -> tuple[list[Any], str | None]:
            one = replace(query, max_results=room, next_token=inner)
            with ctx.services.store.read() as uow:
                answer = aggregations.aggregate(uow.finding_queries, tenant, one)
            return answer["responses"], answer.get("nextToken")

        responses, token = page_across(tenants, body.get("nextToken"), limit, bound, fetch)
        out: dict[str, Any] = {"aggregationType": query.type, "responses": responses}
        for item in responses:
            title = item.get("titleAggregation")
            if title is not None:  # dockwatch's addition to a TITLE group
                title.pop("affectedImages", None)
            container = item.get("awsEcrContainerAggregation")
            if container and container.get("lastInUseAt") is not None:
                container["lastInUseAt"] = to_datetime(container["lastInUseAt"])
        if token:
            out["nextToken"] = token
        return out

    return await blocking(run)


OPERATIONS: dict[str, Handler] = {
    "ListFindings": list_findings,
    "BatchGetFindingDetails": batch_get_finding_details,
    "ListFindingAggregations": list_finding_aggregations,
}
