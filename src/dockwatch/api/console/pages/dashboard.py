"""Dashboard: findings by severity now and over the last 30 days, images covered or not, the
most vulnerable repositories and images, the newest critical findings, the feeds' freshness.

Every number comes from the services the APIs use: aggregations (`queries.aggregations`),
the open-findings trend (`queries.trend`), coverage statistics (`queries.coverage`), the
findings listing (`queries.listing`) and the feed status (`vulndb.service.VulnDb`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dockwatch.findings.build import SEVERITY_ORDER
from dockwatch.model.coverage_criteria import IMAGE, CoverageComparison, CoverageString, GroupKey
from dockwatch.model.finding_sort import Sort, SortField, SortOrder
from dockwatch.queries import aggregations
from dockwatch.queries.coverage import coverage_statistics
from dockwatch.queries.coverage_criteria import parse_coverage_criteria
from dockwatch.queries.criteria_query import criteria_from_query
from dockwatch.queries.listing import list_findings
from dockwatch.queries.trend import open_findings_by_day
from dockwatch.vulndb.service import VulnDb

from ..charts import trend_chart
from ..context import Console
from ..page import NavItem, Page
from .coverage import scope_of

TOP = 5
TREND_DAYS = 30


def dashboard_data(console: Console) -> dict[str, Any]:
    """Everything the dashboard shows, read in one go."""
    services = console.services
    tenant = services.tenant
    config, _ = services.scanner.settings()
    with services.store.read() as uow:
        repo = uow.finding_queries

        def top(kind: str) -> list[dict[str, Any]]:
            query = aggregations.parse_request({"aggregationType": kind, "maxResults": TOP})
            member = aggregations.MEMBERS[kind]
            return [r[member] for r in aggregations.aggregate(repo, tenant, query)["responses"]]

        account = top("ACCOUNT")
        trend = open_findings_by_day(repo, tenant, services.clock.now(), TREND_DAYS)
        newest = list_findings(
            repo,
            tenant,
            criteria_from_query({"severity": ["CRITICAL"], "findingStatus": ["ACTIVE"]}),
            Sort(SortField.FIRST_OBSERVED_AT, SortOrder.DESC),
            limit=10,
        ).findings
        repositories, images = top("REPOSITORY"), top("AWS_ECR_CONTAINER")
    criteria = parse_coverage_criteria({})
    images_only = replace(
        criteria,
        strings={"resourceType": (CoverageString(CoverageComparison.EQUALS, IMAGE),)},
    )
    covered = coverage_statistics(
        services.store, tenant, images_only, scope_of(config), GroupKey.SCAN_STATUS_CODE
    )
    feeds = VulnDb(services.store, services.clock).status(
        timedelta(hours=services.settings.feed_stale_hours)
    )["sources"]
    counts = account[0]["severityCounts"] if account else {}
    return {
        "severities": [(s, counts.get(s.lower(), 0)) for s in SEVERITY_ORDER],
        "total": counts.get("all", 0),
        "trend": trend,
        "chart": trend_chart(trend),
        "coverage": {g["groupKey"]: g["count"] for g in covered.get("countsByGroup", [])},
        "coverage_total": covered["totalCounts"],
        "repositories": repositories,
        "images": images,
        "newest": newest,
        "feeds": feeds,
        "scan_type": config.scan_type.value,
    }


def routes(console: Console) -> list[BaseRoute]:
    """GET /console/."""

    async def dashboard(request: Request) -> Response:
        data = await to_thread.run_sync(dashboard_data, console)
        return console.renderer.page(request, "dashboard.html", data)

    return [Route("/console/", dashboard, methods=["GET"])]


PAGE = Page("dashboard", routes, NavItem("Dashboard", "/console/"))
