"""Finding exports over HTTP: an image's findings, or any query's, as JSON, CSV, SARIF 2.1.0,
CycloneDX 1.6 (VEX) or ASFF (the renderers of findings/export, the same as `dockwatch scan`).

A query export walks the listing's keyset pages, so it costs what listing costs; it is bounded
(`MAX_EXPORT`) and says so with a 400 rather than answering a truncated file as if complete.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response

from dockwatch.app import Services
from dockwatch.errors import InvalidInput
from dockwatch.model.finding_criteria import Criteria
from dockwatch.queries.criteria_query import criteria_from_query
from dockwatch.queries.listing import list_findings, parse_sort
from dockwatch.registry.manifests import Manifests
from dockwatch.reports.common import ExportContext
from dockwatch.reports.findings.formats import lookup

from .findings import query_lists

MAX_EXPORT = 100_000
"""Findings one export may hold (a larger query should be narrowed by its filters)."""


def _collect(services: Services, criteria: Criteria) -> list[dict[str, Any]]:
    sort = parse_sort(None, None)
    out: list[dict[str, Any]] = []
    token: str | None = None
    with services.store.read() as uow:
        while True:
            page = list_findings(uow.finding_queries, services.tenant, criteria, sort, 1000, token)
            out += page.findings
            if len(out) > MAX_EXPORT:
                raise InvalidInput(
                    f"the query matches more than {MAX_EXPORT} findings; narrow its filters"
                )
            token = page.next_token
            if not token:
                return out


def _respond(name: str, findings: list[dict[str, Any]], ctx: ExportContext) -> Response:
    fmt = lookup(name)
    body = fmt.renderer()(findings, ctx)
    filename = f"findings.{fmt.extension}"
    return Response(
        body,
        media_type=fmt.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _format(params: dict[str, list[str]]) -> str:
    values = params.pop("format", None) or ["json"]
    if len(values) != 1:
        raise InvalidInput("give one format")
    lookup(values[0])  # an unknown name is a 400 listing the valid ones, before any work
    return values[0]


async def export_findings(services: Services, request: Request) -> Response:
    """Findings meeting the listing's query parameters, in `format` (json, csv, sarif,
    cyclonedx-json, asff, table)."""
    params = query_lists(request)
    name = _format(params)
    criteria = criteria_from_query(params)

    def run() -> Response:
        return _respond(name, _collect(services, criteria), ExportContext())

    return await to_thread.run_sync(run)


async def export_image_findings(services: Services, request: Request) -> Response:
    """One image's findings (any status: suppressed ones carry their VEX state in CycloneDX),
    in `format`."""
    repository = request.path_params["name"]
    reference = request.path_params["reference"]
    params = query_lists(request)
    name = _format(params)
    if params:
        raise InvalidInput(f"unknown parameter {sorted(params)[0]!r} (expected: format)")

    def run() -> Response:
        _, row = Manifests(services.registry.ctx).resolve(repository, reference)
        criteria = criteria_from_query(
            {"ecrImageRepositoryName": [repository], "ecrImageHash": [row.digest]}
        )
        findings = [f for f in _collect(services, criteria) if f.get("status") != "CLOSED"]
        ctx = ExportContext(
            image_reference=f"{repository}:{reference}"
            if not reference.startswith("sha256:")
            else f"{repository}@{reference}",
            image_digest=row.digest,
            image_name=repository,
        )
        return _respond(name, findings, ctx)

    return await to_thread.run_sync(run)


OPERATIONS: list[tuple[str, str, str, Any, int]] = [
    ("GET", "/api/v1/findings/export",
     "Findings of a query (the listing's parameters) as format=json|csv|sarif|cyclonedx-json|asff",
     export_findings, 200),
    ("GET", "/api/v1/repositories/{name:path}/images/{reference}/findings/export",
     "An image's findings as format=json|csv|sarif|cyclonedx-json|asff", export_image_findings,
     200),
]  # fmt: skip
"""(method, path, summary, handler, status) for `routes.OPERATIONS` (before `{findingId}`)."""
