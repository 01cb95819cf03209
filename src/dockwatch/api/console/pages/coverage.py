"""Coverage (the Container images tab): every image with its scan status, reason, last scan,
push and pull dates; filters; keyset pages; repositories with their scan frequency; and
activating or deactivating enhanced scanning after a confirmation that says what happens to
findings.

Listing is Inspector's ListCoverage (`queries.coverage.list_coverage`, ordered by repository
then digest, one page per request, the next page by token); push dates come from the
registry's manifests of the repositories on the page (one read per repository).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from dockwatch.errors import InvalidInput
from dockwatch.model import page_token
from dockwatch.model.coverage_criteria import (
    IMAGE,
    REPOSITORY,
    CoverageComparison,
    CoverageCriteria,
    CoverageString,
)
from dockwatch.queries.coverage import list_coverage
from dockwatch.queries.coverage_criteria import coverage_criteria_from_query
from dockwatch.scan.config import RegistryScanningConfiguration, ScanFrequency, ScanType

from ...v1.coverage import coverage_scope
from ..context import Console
from ..forms import read_form
from ..page import NavItem, Page

PAGE_SIZE = 50
FILTERS = ("ecrRepositoryName", "ecrImageTags", "scanStatusCode", "scanStatusReason")
"""The filter bar's fields: ListCoverage's string criteria (EQUALS; `!value` excludes)."""
STATUS_CODES = ("ACTIVE", "INACTIVE")

scope_of = coverage_scope


def _of_type(criteria: CoverageCriteria, resource_type: str) -> CoverageCriteria:
    equals = (CoverageString(CoverageComparison.EQUALS, resource_type),)
    return replace(criteria, strings={**criteria.strings, "resourceType": equals})


def coverage_data(
    console: Console, filters: dict[str, list[str]], token: str | None
) -> dict[str, Any]:
    """A page of image coverage with push dates, and the repositories' frequencies."""
    services = console.services
    config, _ = services.scanner.settings()
    scope = coverage_scope(config)
    criteria = coverage_criteria_from_query(filters)
    bound = page_token.request_digest({"console": filters})
    page = list_coverage(
        services.store, services.tenant, _of_type(criteria, IMAGE), scope,
        limit=PAGE_SIZE, token=token, bound_to=bound,
    )  # fmt: skip
    pushed: dict[tuple[str, str], Any] = {}
    names = sorted({r["resourceMetadata"]["ecrRepository"]["name"] for r in page.resources})
    with services.store.read() as uow:
        for name in names:
            repository = services.registry.ctx.repository(name)
            for row in uow.registry.manifests_of(repository.id):
                pushed[(name, row.digest)] = row.last_pushed_at
    rows = []
    for r in page.resources:
        name = r["resourceMetadata"]["ecrRepository"]["name"]
        digest = r["resourceId"].rsplit("/", 1)[-1]
        rows.append(
            {
                "repository": name,
                "digest": digest,
                "tags": r["resourceMetadata"]["ecrImage"]["tags"],
                "status": r["scanStatus"]["statusCode"],
                "reason": r["scanStatus"]["reason"],
                "last_scanned": r.get("lastScannedAt"),
                "pushed": pushed.get((name, digest)),
                "pulled": r["resourceMetadata"]["ecrImage"].get("imagePulledAt"),
            }
        )
    repositories = list_coverage(
        services.store, services.tenant, _of_type(CoverageCriteria(), REPOSITORY), scope,
        limit=200, token=None, bound_to="console-repositories",
    ).resources  # fmt: skip
    return {
        "rows": rows,
        "next_token": page.next_token,
        "repositories": [
            {
                "name": r["resourceMetadata"]["ecrRepository"]["name"],
                "frequency": r["resourceMetadata"]["ecrRepository"]["scanFrequency"],
                "status": r["scanStatus"]["statusCode"],
            }
            for r in repositories
        ],
        "enhanced": config.scan_type is ScanType.ENHANCED,
    }


def toggled(config: RegistryScanningConfiguration, activate: bool) -> dict[str, Any]:
    """The configuration after activating (enhanced, every repository scanned continuously) or
    deactivating (basic; the scan-on-push rules are kept, continuous ones have no meaning)."""
    if activate:
        return {"scanType": "ENHANCED", "rules": []}
    wire = config.to_wire()
    rules = [r for r in wire["rules"] if r["scanFrequency"] == ScanFrequency.SCAN_ON_PUSH.value]
    return {"scanType": "BASIC", "rules": rules}


def routes(console: Console) -> list[BaseRoute]:
    """GET /console/coverage; GET/POST /console/coverage/enhanced (confirm, then apply)."""
    services = console.services

    async def show(request: Request) -> Response:
        q = request.query_params
        filters = {k: [v for v in q.getlist(k) if v.strip()] for k in FILTERS}
        filters = {k: v for k, v in filters.items() if v}
        token = q.get("nextToken") or None
        data = await to_thread.run_sync(coverage_data, console, filters, token)
        values = {k: q.get(k, "") for k in FILTERS}
        query = "&".join(f"{k}={v}" for k, vs in filters.items() for v in vs)
        return console.renderer.page(
            request,
            "coverage.html",
            {**data, "values": values, "filter_query": query, "status_codes": STATUS_CODES},
        )

    async def confirm(request: Request) -> Response:
        action = request.query_params.get("action", "")
        if action not in ("activate", "deactivate"):
            raise InvalidInput("action must be activate or deactivate")

        def count() -> int:
            with services.store.read() as uow:
                return len(uow.scans.enhanced_images(services.tenant))

        images = await to_thread.run_sync(count)
        return console.renderer.page(
            request, "coverage_confirm.html", {"action": action, "images": images}
        )

    async def apply(request: Request) -> Response:
        form = await read_form(request)
        action = form.one("action")
        if action not in ("activate", "deactivate") or form.one("confirm") != "yes":
            raise InvalidInput("confirm activating or deactivating enhanced scanning first")
        config, _ = await to_thread.run_sync(services.scanner.settings)
        body = toggled(config, action == "activate")
        await to_thread.run_sync(services.scanner.put_scanning_configuration, body)
        return RedirectResponse("/console/coverage", 303)

    return [
        Route("/console/coverage", show, methods=["GET"]),
        Route("/console/coverage/enhanced", confirm, methods=["GET"]),
        Route("/console/coverage/enhanced", apply, methods=["POST"]),
    ]


PAGE = Page("coverage", routes, NavItem("Coverage", "/console/coverage"))
