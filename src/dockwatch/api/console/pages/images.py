"""Repositories and images: the repositories with image and finding counts, a repository's
images, and an image page with its scan status, its findings, the same findings grouped by the
layer that brought them (each with its Dockerfile step from the config's `history`), and the
SBOM and findings exports as downloads.

Every number comes from what `/api/v1` answers: the repositories (`uow.registry`), the
REPOSITORY aggregation (`queries.aggregations`), DescribeImages (`v1.routes.list_images`),
findings by layer (`v1.findings.image_findings_by_layer`) and the exports (`v1.sbom`,
`v1.exports`), called here with the console's session instead of Basic credentials.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dockwatch.errors import InvalidInput
from dockwatch.model.image_history import layer_steps
from dockwatch.model.oci import INDEX_TYPES, SCHEMA1_TYPES, parse_manifest
from dockwatch.queries import aggregations
from dockwatch.registry.manifests import Manifests
from dockwatch.registry.reader import StoredImageReader

from ...v1.exports import export_image_findings
from ...v1.findings import image_findings_by_layer
from ...v1.routes import list_images
from ...v1.sbom import image_sbom
from ..context import Console
from ..page import NavItem, Page

MAX_CONFIG_BYTES = 4 * 1024 * 1024
"""An image config is a few KiB; a larger one is not read for its history."""
MAX_AGGREGATED = 100
"""Repositories whose finding counts are read in one aggregation."""
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNTRIAGED")


def finding_row(finding: dict[str, Any]) -> dict[str, Any]:
    """The columns the image page shows for one Inspector finding."""
    details = finding.get("packageVulnerabilityDetails") or {}
    packages = details.get("vulnerablePackages") or [{}]
    epss = finding.get("epss") or {}
    return {
        "arn": finding["findingArn"],
        "id": details.get("vulnerabilityId") or finding.get("title", ""),
        "severity": finding.get("severity", ""),
        "score": finding.get("inspectorScore"),
        "status": finding.get("status", ""),
        "packages": [
            {
                "name": p.get("name", ""),
                "installed": p.get("version", ""),
                "fixed": p.get("fixedInVersion") or "",
            }
            for p in packages
        ],
        "fix": finding.get("fixAvailable", ""),
        "exploit": finding.get("exploitAvailable", ""),
        "epss": epss.get("score"),
    }


def config_of(console: Console, name: str, reference: str) -> tuple[str, Any]:
    """The image's digest and its config document (None for schema 1 or an unreadable one)."""
    manifests = Manifests(console.services.registry.ctx)
    _, row = manifests.resolve(name, reference)
    if row.media_type in INDEX_TYPES:
        raise InvalidInput("an image index has no layers: open one of its platforms by digest")
    stored = manifests.get(name, row.digest, [row.media_type], record_pull=False)
    if stored.media_type in SCHEMA1_TYPES:
        return row.digest, None
    parsed = parse_manifest(stored.content, stored.media_type)
    config = getattr(parsed, "config", None)
    if config is None or (config.size or 0) > MAX_CONFIG_BYTES:
        return row.digest, None
    with StoredImageReader(console.services.registry.ctx, name).open_blob(config.digest) as f:
        raw = f.read(MAX_CONFIG_BYTES + 1)
    try:
        return row.digest, json.loads(raw)
    except ValueError:
        return row.digest, None


def repositories_data(console: Console) -> list[dict[str, Any]]:
    """Every repository with its image count and its active findings by severity."""
    services = console.services
    with services.store.read() as uow:
        rows = uow.registry.repository_rows(services.tenant)
        images = {row.name: len(uow.registry.manifests_of(row.id)) for row in rows}
        query = aggregations.parse_request(
            {"aggregationType": "REPOSITORY", "maxResults": MAX_AGGREGATED}
        )
        member = aggregations.MEMBERS["REPOSITORY"]
        answer = aggregations.aggregate(uow.finding_queries, services.tenant, query)
    counts = {r[member]["repository"]: r[member]["severityCounts"] for r in answer["responses"]}
    return [
        {
            "name": row.name,
            "images": images[row.name],
            "counts": counts.get(row.name, {}),
            "href": "/console/repositories/" + quote(row.name),
        }
        for row in rows
    ]


def routes(console: Console) -> list[BaseRoute]:
    """GET /console/repositories, a repository's images, an image, its SBOM and its export."""
    services = console.services

    async def repositories(request: Request) -> Response:
        rows = await to_thread.run_sync(repositories_data, console)
        return console.renderer.page(request, "repositories.html", {"rows": rows})

    async def images(request: Request) -> Response:
        name = request.path_params["name"]
        details = (await list_images(services, request))["imageDetails"]
        rows = [
            {
                "digest": d["imageDigest"],
                "tags": d["imageTags"],
                "pushed": d["imagePushedAt"],
                "status": (d.get("imageScanStatus") or {}).get("status", "NOT SCANNED"),
                "counts": (d.get("imageScanFindingsSummary") or {}).get(
                    "findingSeverityCounts", {}
                ),
                "href": f"/console/repositories/{quote(name)}/images/{quote(d['imageDigest'])}",
            }
            for d in details
        ]
        return console.renderer.page(
            request, "repository.html", {"name": name, "rows": rows, "severities": SEVERITIES}
        )

    async def image(request: Request) -> Response:
        name = request.path_params["name"]
        reference = request.path_params["reference"]
        by_layer = await image_findings_by_layer(services, request)
        digest, config = await to_thread.run_sync(config_of, console, name, reference)
        described = (await list_images(services, request))["imageDetails"]
        detail: dict[str, Any] = next((d for d in described if d["imageDigest"] == digest), {})
        layers = [g for g in by_layer["layers"] if g["layerDigest"] is not None]
        steps = layer_steps(config, len(layers))
        groups = [
            {
                "digest": g["layerDigest"],
                "index": g["layerIndex"],
                "step": steps[i] if i < len(steps) else None,
                "counts": g["findingSeverityCounts"],
                "findings": [finding_row(f) for f in g["findings"]],
            }
            for i, g in enumerate(layers)
        ]
        unknown = [g for g in by_layer["layers"] if g["layerDigest"] is None]
        seen: dict[str, dict[str, Any]] = {}
        for g in by_layer["layers"]:
            for f in g["findings"]:
                seen.setdefault(f["findingArn"], finding_row(f))
        base = f"/console/repositories/{quote(name)}/images/{quote(reference)}"
        return console.renderer.page(
            request,
            "image.html",
            {
                "name": name,
                "reference": reference,
                "digest": digest,
                "tags": detail.get("imageTags", []),
                "scan": detail.get("imageScanStatus") or {},
                "summary": detail.get("imageScanFindingsSummary") or {},
                "findings": list(seen.values()),
                "groups": groups,
                "unknown": [finding_row(f) for g in unknown for f in g["findings"]],
                "sbom_href": f"{base}/sbom",
                "export_href": f"{base}/findings/export",
                "repository_href": f"/console/repositories/{quote(name)}",
            },
        )

    async def sbom(request: Request) -> Response:
        answer: Response = await image_sbom(services, request)
        return answer

    async def export(request: Request) -> Response:
        return await export_image_findings(services, request)

    image_path = "/console/repositories/{name:path}/images/{reference}"
    return [
        Route("/console/repositories", repositories, methods=["GET"]),
        Route(image_path + "/sbom", sbom, methods=["GET"]),
        Route(image_path + "/findings/export", export, methods=["GET"]),
        Route(image_path, image, methods=["GET"]),
        Route("/console/repositories/{name:path}", images, methods=["GET"]),
    ]


PAGE = Page("images", routes, NavItem("Repositories", "/console/repositories"))
