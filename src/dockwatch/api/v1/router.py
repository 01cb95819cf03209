"""Starlette routes for the /api/v1 operations, with the HTTP semantics around them.

Each operation's request body is read and checked (`body.py`) before its handler runs, and
every JSON query parameter is bounded the same way. A path that exists answers an undeclared
method with 405 and an `Allow` header listing the declared ones (OPTIONS lists them with 204);
a path that does not exist answers 404 `ResourceNotFoundException`. Every failure leaves as an
AWS-style error body.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from dockwatch.errors import NotFound
from dockwatch.value_class import frozen

from .body import Limits, Shape, check_json_query, read_body
from .codes import MethodNotAllowed, code_for
from .openapi import Param, check_query

logger = logging.getLogger(__name__)

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@frozen
class Operation:
    """One documented route; `body` is the shape of its JSON request body (None: no body)."""

    method: str
    path: str
    summary: str
    handler: Callable[[Any, Request], Awaitable[Any]]
    status: int = 200
    body: Shape | None = field(default=None)
    query: tuple[Param, ...] = ()
    """Its declared query parameters, checked before the handler runs."""
    closed_query: bool = False
    """Whether a query parameter it does not declare is refused."""


def error_response(exc: BaseException, headers: dict[str, str] | None = None) -> JSONResponse:
    """An AWS-style error body with the status of its registered type."""
    code = code_for(exc)
    if code.type == "InternalServerException":
        logger.error("unexpected error in the JSON API", exc_info=exc)
        message = "internal error"
    else:
        message = str(exc)
    return JSONResponse(
        {"__type": code.type, "message": message}, status_code=code.status, headers=headers
    )


def caller_services(services: Any, request: Request) -> Any:
    """The services of the tenant the authenticated caller acts in (the default tenant's
    when authentication is off)."""
    tenant = request.scope.get("state", {}).get("tenant")
    return services if tenant is None else services.for_tenant(tenant)


def build_routes(
    services: Any, operations: Sequence[Operation], limits: Limits, plain: Sequence[Route] = ()
) -> list[Route]:
    """A route per operation, the `plain` routes, then one catch-all that answers 404, 405 or
    OPTIONS."""
    out: list[Route] = []
    for op in operations:

        async def endpoint(request: Request, op: Operation = op) -> Response:
            shadow = owners(request.scope["path"])
            if op.path not in shadow:  # a wider template caught a path a narrower one owns
                allow = sorted({m for r in declared if r.path in shadow for m in r.methods or ()})
                allow = sorted({*allow, "OPTIONS"})
                exc = MethodNotAllowed(request.method, allow)
                return error_response(exc, {"Allow": ", ".join(allow)})
            try:
                check_json_query(request, limits)
                check_query(request, op.query, op.closed_query)
                if request.method in BODY_METHODS:
                    await read_body(request, op.body, limits)
                body = await op.handler(caller_services(services, request), request)
            except Exception as exc:  # every failure leaves as an AWS-style error body
                return error_response(exc)
            if isinstance(body, Response):
                return body
            return JSONResponse(body, status_code=op.status)

        out.append(Route(op.path, endpoint, methods=[op.method]))
    out.extend(plain)
    declared = list(out)

    def owners(path: str) -> set[str]:
        """The route templates that own `path`: of those matching it, the ones with the fewest
        parameters (`/findings/aggregations/list` is not a `/findings/{findingId:path}`)."""
        matching = [r for r in declared if r.path_regex.match(path)]
        if not matching:
            return set()
        fewest = min(len(r.param_convertors) for r in matching)
        return {r.path for r in matching if len(r.param_convertors) == fewest}

    def allowed(path: str) -> list[str]:
        mine = owners(path)
        methods: set[str] = set()
        for route in declared:
            if route.path in mine and route.methods:
                methods |= route.methods
        return sorted(methods | {"OPTIONS"}) if methods else []

    async def fallback(request: Request) -> Response:
        path, method = request.scope["path"], request.method
        allow = allowed(path)
        if not allow:
            return error_response(NotFound(f"no such resource: {path}"))
        if method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": ", ".join(allow)})
        return error_response(MethodNotAllowed(method, allow), {"Allow": ", ".join(allow)})

    catch_all = Route("/api/v1/{rest:path}", AnyMethod(fallback))
    # any character, a newline too: an unmatched path still gets the JSON error shape
    catch_all.path_regex = re.compile(catch_all.path_regex.pattern, re.DOTALL)
    out.append(catch_all)
    return out


class AnyMethod:
    """A request handler as an ASGI endpoint, so that a Starlette route sends it every method
    (a function endpoint would only get the methods listed)."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request."""
        response = await self.handler(Request(scope, receive))
        await response(scope, receive, send)
