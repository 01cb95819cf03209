"""Inspector2 CreateSbomExport and GetSbomExport: the SBOM of every image resource the caller
sees (itself, and its members when it is the delegated administrator) that meets
`resourceFilterCriteria`, through the same SBOM reports as `/api/v1` (CYCLONEDX_1_4 is written
as dockwatch's CycloneDX JSON, SPDX_2_3 as its SPDX 2.3 JSON), one file per image under
`<reports folder>/<bucketName>/<keyPrefix>/<reportId>/<account>/<repository>/<digest>.json`.
Exports are written before CreateSbomExport answers.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.api.v1.coverage import coverage_scope
from dockwatch.model.coverage_criteria import IMAGE, CoverageComparison, CoverageString
from dockwatch.model.identity import Tenant
from dockwatch.queries.coverage import list_coverage
from dockwatch.queries.coverage_criteria import parse_coverage_criteria

from .common import blocking, not_found, operation, validation, visible_tenants
from .coverage import scanning_configuration
from .reports import destination, read_status, status_path
from .tenancy import services_for

FORMATS = {"CYCLONEDX_1_4": "cyclonedx-json", "SPDX_2_3": "spdx-json"}
MAX_IMAGES = 10_000
"""Images one export may hold (a larger one should be narrowed by its filters)."""


def _images(ctx: AwsContext, criteria: Any) -> list[tuple[Tenant, str, str]]:
    """(tenant, repository, digest) of every covered image meeting `criteria`."""
    only_images = (CoverageString(CoverageComparison.EQUALS, IMAGE),)
    criteria = replace(criteria, strings={**criteria.strings, "resourceType": only_images})
    store = ctx.services.store
    out: list[tuple[Tenant, str, str]] = []
    for tenant in visible_tenants(ctx):
        scope = coverage_scope(scanning_configuration(store, tenant))
        token: str | None = None
        while True:
            page = list_coverage(store, tenant, criteria, scope, limit=200, token=token,
                                 bound_to="sbom-export")  # fmt: skip
            for r in page.resources:
                name = r["resourceMetadata"]["ecrRepository"]["name"]
                out.append((tenant, name, r["resourceId"].rsplit("/", 1)[1]))
            if len(out) > MAX_IMAGES:
                raise validation(f"the filters match more than {MAX_IMAGES} images")
            token = page.next_token
            if token is None:
                break
    return out


def _sbom(ctx: AwsContext, tenant: Tenant, repository: str, digest: str, fmt: str) -> str:
    from dockwatch.catalog.service import ImageCataloguer
    from dockwatch.image.sources import resolve
    from dockwatch.registry.reader import StoredImageReader
    from dockwatch.reports.sbom import render

    services = services_for(ctx, tenant)
    reader = StoredImageReader(services.registry.ctx, repository)
    image = resolve(reader, digest, None, reference=f"{repository}@{digest}")
    cataloguer = ImageCataloguer(cache=services.catalog_cache, verify_blobs=False)
    return render(cataloguer.catalog(reader, image), fmt)


@operation
async def create_sbom_export(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """CreateSbomExport: `reportFormat` CYCLONEDX_1_4 or SPDX_2_3, `resourceFilterCriteria`,
    `s3Destination`."""
    report_format = body.get("reportFormat")
    if report_format not in FORMATS:
        raise validation(f"reportFormat must be one of {', '.join(FORMATS)}")
    raw = body.get("resourceFilterCriteria") or {}
    criteria = parse_coverage_criteria(raw)
    dest = destination(body)
    root = ctx.services.settings.effective_reports_dir

    def run() -> dict[str, Any]:
        report_id = str(uuid.uuid4())
        images = _images(ctx, criteria)
        folder = root / dest["bucketName"] / (dest.get("keyPrefix") or "") / report_id
        for tenant, repository, digest in images:
            text = _sbom(ctx, tenant, repository, digest, FORMATS[str(report_format)])
            target = folder / tenant.account_id / repository / f"{digest.replace(':', '_')}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        status: dict[str, Any] = {
            "reportId": report_id, "format": report_format, "status": "SUCCEEDED",
            "s3Destination": dest, "filterCriteria": raw,
            "owner": ctx.tenant.account_id, "region": ctx.tenant.region,
        }  # fmt: skip
        if not images:
            status.update(status="FAILED", errorCode="NO_FINDINGS_FOUND",
                          errorMessage="no image resource meets the filter criteria")  # fmt: skip
        path = status_path(root, report_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(status), encoding="utf-8")
        return {"reportId": report_id}

    return await blocking(run)


@operation
async def get_sbom_export(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """GetSbomExport: the caller's own exports only."""
    status = await blocking(read_status, ctx, body.get("reportId"))
    if "format" not in status:  # a findings report's id
        raise not_found(f"no SBOM export {status['reportId']}")
    return {k: v for k, v in status.items() if k not in ("owner", "region")}


OPERATIONS: dict[str, Handler] = {
    "CreateSbomExport": create_sbom_export,
    "GetSbomExport": get_sbom_export,
}
