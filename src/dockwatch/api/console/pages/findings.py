"""Findings: Inspector's filter criteria as a filter bar, sorting, keyset pages through
ListFindings (`queries.listing.list_findings`), a finding's detail page (description, CVSS
vectors, references, the evidence of the match), and "create a suppression rule from this
filter" (the suppression-rule service's CreateFilter with the filter bar's criteria)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dockwatch.errors import InvalidInput
from dockwatch.findings.suppression import SuppressionRules
from dockwatch.model.finding_sort import SortField
from dockwatch.queries.criteria_query import criteria_from_query
from dockwatch.queries.listing import get_finding, list_findings, parse_sort

from ..context import Console
from ..forms import read_form
from ..page import NavItem, Page
from .images import finding_row

PAGE_SIZE = 50
FILTERS = (
    "severity", "findingStatus", "ecrImageRepositoryName", "ecrImageTags", "vulnerabilityId",
    "packageName", "fixAvailable", "exploitAvailable", "firstObservedAtFrom",
    "firstObservedAtTo", "lastObservedAtFrom", "lastObservedAtTo",
)  # fmt: skip
"""The filter bar: ListFindings' query parameters (`v*` prefix, `!v` excludes)."""
CHOICES = {
    "severity": ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNTRIAGED"),
    "findingStatus": ("ACTIVE", "SUPPRESSED", "CLOSED"),
    "fixAvailable": ("YES", "NO", "PARTIAL"),
    "exploitAvailable": ("YES", "NO"),
}


def filters_of(values: dict[str, str]) -> dict[str, list[str]]:
    """The filter bar's non-empty fields as ListFindings query parameters."""
    return {k: [values[k]] for k in FILTERS if values.get(k, "").strip()}


def routes(console: Console) -> list[BaseRoute]:
    """GET /console/findings, GET /console/findings/{id or ARN}, POST
    /console/findings/suppress."""
    services = console.services

    async def listing(request: Request) -> Response:
        q = request.query_params
        values = {k: q.get(k, "").strip() for k in FILTERS}
        filters = filters_of(values)
        criteria = criteria_from_query(filters)
        sort = parse_sort(q.get("sortBy") or None, q.get("sortOrder") or None)
        token = q.get("nextToken") or None

        def run() -> Any:
            with services.store.read() as uow:
                return list_findings(
                    uow.finding_queries, services.tenant, criteria, sort, PAGE_SIZE, token
                )

        page = await to_thread.run_sync(run)
        rows = [
            {
                **finding_row(f),
                "repository": f["resources"][0]["details"]["awsEcrContainerImage"][
                    "repositoryName"
                ],
                "tags": f["resources"][0]["details"]["awsEcrContainerImage"].get("imageTags", []),
                "href": "/console/findings/" + quote(f["findingArn"], safe=""),
            }
            for f in page.findings
        ]
        query = {k: v[0] for k, v in filters.items()}
        query |= {"sortBy": sort.field.value, "sortOrder": sort.order.value}
        return console.renderer.page(
            request,
            "findings.html",
            {
                "rows": rows,
                "values": values,
                "choices": CHOICES,
                "filters": {k: v[0] for k, v in filters.items()},
                "sort_fields": [s.value for s in SortField],
                "sort": sort,
                "next_href": (
                    "/console/findings?" + urlencode({**query, "nextToken": page.next_token})
                    if page.next_token
                    else None
                ),
            },
        )

    async def detail(request: Request) -> Response:
        ref = request.path_params["ref"]

        def run() -> dict[str, Any]:
            with services.store.read() as uow:
                return get_finding(uow.finding_queries, services.tenant, ref)

        finding = await to_thread.run_sync(run)
        details = finding.get("packageVulnerabilityDetails") or {}
        image = finding["resources"][0]["details"]["awsEcrContainerImage"]
        return console.renderer.page(
            request,
            "finding.html",
            {
                "f": finding,
                "row": finding_row(finding),
                "cvss": details.get("cvss") or [],
                "references": [
                    *details.get("referenceUrls", []),
                    *([details["sourceUrl"]] if details.get("sourceUrl") else []),
                ],
                "evidence": finding.get("evidence") or [],
                "image": image,
                "image_href": f"/console/repositories/{quote(image['repositoryName'])}"
                f"/images/{quote(image['imageHash'])}",
            },
        )

    async def suppress(request: Request) -> Response:
        form = await read_form(request)
        filters = filters_of({k: form.one(k) for k in FILTERS})
        if not filters:
            raise InvalidInput("choose at least one filter before suppressing what it matches")
        name = form.one("name")
        if not name:
            raise InvalidInput("name: give the rule a name")
        body = {
            "action": "SUPPRESS",
            "name": name,
            "reason": form.one("reason") or None,
            "filterCriteria": criteria_from_query(filters).to_wire(),
        }
        body = {k: v for k, v in body.items() if v is not None}
        rules = SuppressionRules(services.store, services.clock, services.tenant)
        change = await to_thread.run_sync(rules.create, body)
        rule = change.rule.to_wire(services.tenant, services.clock.now())
        return console.renderer.page(
            request,
            "suppression_created.html",
            {
                "rule": rule,
                "changed": change.findings_changed,
                "filters": filters,
                "back_href": "/console/findings?" + urlencode(filters, doseq=True),
            },
            201,
        )

    return [
        Route("/console/findings", listing, methods=["GET"]),
        Route("/console/findings/suppress", suppress, methods=["POST"]),
        Route("/console/findings/{ref:path}", detail, methods=["GET"]),
    ]


PAGE = Page("findings", routes, NavItem("Findings", "/console/findings"))
