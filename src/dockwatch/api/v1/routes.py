"""/api/v1/ routes: repositories, images, SBOMs and the vulnerability database status.

Handlers parse the request, call the services in the thread pool and shape the answer with
ECR's field names; errors leave through `codes.py` only. The OpenAPI document is generated
from the route table, so it cannot drift from what is served.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dockwatch.app import Services
from dockwatch.model.identity import repository_arn
from dockwatch.model.times import iso

from . import aggregations, coverage, exports, openapi, scanning
from . import audit as audit_api
from . import findings as findings_api
from . import pull_policies as pull_policy_api
from . import suppression_rules as suppression_api
from .bodies import BODIES
from .body import Limits
from .router import Operation, build_routes
from .sbom import image_sbom
from .schemas import CONTRACTS
from .webhooks import (
    create_webhook,
    delete_webhook,
    get_webhook,
    list_deliveries,
    list_webhooks,
    test_webhook,
)

logger = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


async def list_repositories(services: Services, request: Request) -> dict[str, Any]:
    """Repositories with their settings (ECR DescribeRepositories field names)."""

    def run() -> list[dict[str, Any]]:
        with services.store.read() as uow:
            rows = uow.registry.repository_rows(services.tenant)
        return [
            {
                "repositoryName": row.name,
                "repositoryArn": repository_arn(services.tenant, row.name),
                "registryId": services.tenant.account_id,
                "createdAt": iso(row.created_at),
                "imageTagMutability": row.image_tag_mutability,
                "imageScanningConfiguration": {"scanOnPush": row.scan_on_push},
            }
            for row in rows
        ]

    return {"repositories": await to_thread.run_sync(run)}


async def list_images(services: Services, request: Request) -> dict[str, Any]:
    """Images of one repository (ECR DescribeImages field names), with `imageScanStatus` and
    `imageScanFindingsSummary` for the images scanned."""
    name = request.path_params["name"]

    def run() -> list[dict[str, Any]]:
        r = services.registry.ctx.repository(name)
        with services.store.read() as uow:
            rows = uow.registry.manifests_of(r.id)
            scans = scanning.image_scan_fields(
                uow, services.tenant, r.id, [row.digest for row in rows]
            )
            return [
                {
                    "registryId": services.tenant.account_id,
                    "repositoryName": name,
                    "imageDigest": row.digest,
                    "imageTags": uow.registry.tags_of(r.id, row.digest),
                    "imageSizeInBytes": row.size,
                    "imagePushedAt": iso(row.image_pushed_at),
                    "lastPushedAt": iso(row.last_pushed_at),
                    "lastRecordedPullTime": iso(row.last_pulled_at),
                    "imageManifestMediaType": row.media_type,
                    "artifactMediaType": row.artifact_type,
                    "subjectManifestDigest": row.subject_digest,
                    **scans.get(row.digest, {}),
                }
                for row in rows
            ]

    return {"imageDetails": await to_thread.run_sync(run)}


async def db_status(services: Services, request: Request) -> dict[str, Any]:
    """The vulnerability database: version, advisories, sources and their age."""
    from dockwatch.vulndb.service import VulnDb

    vdb = VulnDb(services.store, services.clock, services.tenant.account_id, services.tenant.region)
    return await to_thread.run_sync(vdb.status)


OPERATIONS: list[Operation] = [
    Operation("GET", "/api/v1/repositories", "List repositories", list_repositories),
    Operation(
        "GET",
        "/api/v1/repositories/{name:path}/images",
        "List the images of a repository",
        list_images,
    ),
    Operation(
        "GET",
        "/api/v1/repositories/{name:path}/images/{reference}/sbom",
        "The SBOM of an image (format=json|cyclonedx-json|spdx-json)",
        image_sbom,
    ),
    Operation("GET", "/api/v1/db/status", "Vulnerability database status", db_status),
    Operation(
        "GET",
        "/api/v1/registry/scanning-configuration",
        "The registry scanning configuration",
        scanning.get_scanning_configuration,
    ),
    Operation(
        "PUT",
        "/api/v1/registry/scanning-configuration",
        "Set the registry scanning configuration",
        scanning.put_scanning_configuration,
    ),
    Operation(
        "POST",
        "/api/v1/registry/scanning-configuration/preview",
        "Which repositories a configuration would scan",
        scanning.preview_scanning_configuration,
    ),
    Operation(
        "POST",
        "/api/v1/repositories/{name:path}/images/{reference}/scan",
        "Start a basic scan of an image (once per 24 hours)",
        scanning.start_image_scan,
    ),
    Operation(
        "GET",
        "/api/v1/configuration",
        "The re-scan duration (ecrConfiguration)",
        scanning.get_configuration,
    ),
    Operation(
        "PUT", "/api/v1/configuration", "Set the re-scan duration", scanning.put_configuration
    ),
    Operation(
        "POST",
        "/api/v1/repositories/scanning-configuration/batch-get",
        "ECR BatchGetRepositoryScanningConfiguration (repositoryNames)",
        scanning.batch_get_repository_scanning,
    ),
    Operation(
        "PUT",
        "/api/v1/repositories/{name:path}/scanning-configuration",
        "Per-repository scan on push (basic scanning)",
        scanning.put_repository_scanning,
    ),
    Operation(
        "GET",
        "/api/v1/repositories/{name:path}/images/{reference}/findings",
        "An image's scan status and findings",
        scanning.image_findings,
    ),
    Operation(
        "GET",
        "/api/v1/findings/aggregations",
        "Finding counts by REPOSITORY, AWS_ECR_CONTAINER, IMAGE_LAYER, PACKAGE, TITLE, ... (type=)",
        aggregations.get_aggregations,
    ),
    Operation(
        "POST",
        "/api/v1/findings/aggregations/list",
        "Inspector ListFindingAggregations (aggregationType, aggregationRequest, nextToken)",
        aggregations.list_aggregations,
    ),
    Operation("GET", "/api/v1/webhooks", "Webhook subscriptions", list_webhooks),
    Operation(
        "POST",
        "/api/v1/webhooks",
        "Subscribe a URL to events (url, secret, eventTypes, description, insecureSkipVerify)",
        create_webhook,
        201,
    ),
    Operation("GET", "/api/v1/webhooks/{id}", "One webhook subscription", get_webhook),
    Operation("DELETE", "/api/v1/webhooks/{id}", "Delete a webhook subscription", delete_webhook),
    Operation(
        "GET",
        "/api/v1/webhooks/{id}/deliveries",
        "A webhook's delivery log, one entry per attempt (nextToken, maxResults, status)",
        list_deliveries,
    ),
    Operation(
        "POST", "/api/v1/webhooks/{id}/test", "Send a test event to one webhook", test_webhook, 202
    ),
]

OPERATIONS += [Operation(*op) for op in (*findings_api.OPERATIONS, *suppression_api.OPERATIONS)]
OPERATIONS += [Operation(*op) for op in coverage.OPERATIONS]
OPERATIONS += [Operation(*op) for op in exports.OPERATIONS]
OPERATIONS += [Operation(*op) for op in pull_policy_api.OPERATIONS]
OPERATIONS += [Operation(*op) for op in audit_api.OPERATIONS]
OPERATIONS += [Operation(*op) for op in findings_api.LAST_OPERATIONS]  # keep last: {findingId:path}
OPERATIONS = [replace(op, body=BODIES.get((op.method, op.path))) for op in OPERATIONS]
OPERATIONS = [
    replace(
        op,
        query=CONTRACTS[(op.method, op.path)].params,
        closed_query=not CONTRACTS[(op.method, op.path)].open_query,
    )
    if (op.method, op.path) in CONTRACTS
    else op
    for op in OPERATIONS
]


def routes(services: Services, extra: list[Operation] | None = None) -> list[Route]:
    """Starlette routes for every operation and /api/v1/openapi.json, then the catch-all that
    answers 404, 405 and OPTIONS."""
    operations = OPERATIONS + (extra or [])
    document = openapi.document(operations, CONTRACTS)

    async def openapi_endpoint(request: Request) -> Response:
        return JSONResponse(document)

    limits = Limits(services.settings.max_request_body_bytes, services.settings.max_json_depth)
    openapi_route = Route("/api/v1/openapi.json", openapi_endpoint, methods=["GET"])
    return build_routes(services, operations, limits, [openapi_route])
