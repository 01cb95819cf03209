"""Finding aggregations: `GET /api/v1/findings/aggregations?type=...` (query parameters) and
`POST /api/v1/findings/aggregations/list` (Inspector's ListFindingAggregations body)."""

from __future__ import annotations

from typing import Any

import orjson
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response

from dockwatch.app import Services
from dockwatch.queries import aggregations

from .body import json_body

MAX_BODY = 256 * 1024
"""A request body is a few filters; anything larger is refused before it is parsed."""


def _answer(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _run(services: Services, query: aggregations.AggregationQuery) -> dict[str, Any]:
    with services.store.read() as uow:
        return aggregations.aggregate(uow.finding_queries, services.tenant, query)


async def get_aggregations(services: Services, request: Request) -> Response:
    """Aggregated finding counts; the filters as query parameters."""
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    query = aggregations.query_from_params(params)
    return _answer(await to_thread.run_sync(_run, services, query))


async def list_aggregations(services: Services, request: Request) -> Response:
    """Aggregated finding counts; Inspector's ListFindingAggregations request body."""
    body = json_body(request)
    query = aggregations.parse_request(body)
    return _answer(await to_thread.run_sync(_run, services, query))
