"""Inspector2 over restJson1: each operation at the method and path of botocore's model
(`http.method`, `http.requestUri`), e.g. `POST /findings/list`, `GET /tags/{resourceArn}`.

Path parameters, query members and header members are merged into the JSON body under their
member names, the whole checked against the input shape (ValidationException with `reason`
and `fields`, as Inspector2 declares it). A path no operation of the table answers is
UnknownOperationException 404. Errors carry `x-amzn-ErrorType` and `{"message", ...}`.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import unquote

import orjson
from botocore.model import OperationModel, Shape, StructureShape
from starlette.requests import Request
from starlette.responses import Response

from dockwatch.api.aws import inspector
from dockwatch.api.aws.ecr_protocol import parse_body
from dockwatch.api.aws.errors import AwsError
from dockwatch.api.aws.protocol import AwsCore, new_request_id, translate
from dockwatch.api.aws.shapes import Problem, check_input, serialize_output, service_model, summary
from dockwatch.api.aws.sigv4 import query_pairs
from dockwatch.errors import BackendUnavailable, Conflict, InvalidInput, NotFound
from dockwatch.value_class import frozen

SERVICE = "inspector2"

DEFAULTS: dict[type, tuple[str, int]] = {
    NotFound: ("ResourceNotFoundException", 404),
    InvalidInput: ("ValidationException", 400),
    Conflict: ("ConflictException", 409),
    BackendUnavailable: ("InternalServerException", 500),
}
"""dockwatch's error families as Inspector2 answers them when a handler does not name them."""


@frozen
class Route:
    """One operation's method and path template, split in segments."""

    name: str
    method: str
    segments: tuple[str, ...]

    def match(self, method: str, segments: list[str]) -> dict[str, str] | None:
        """The path parameters when `segments` (still encoded) fit; else None."""
        if method != self.method:
            return None
        params: dict[str, str] = {}
        for i, part in enumerate(self.segments):
            if part.startswith("{") and part.endswith("+}"):
                rest = segments[i:]
                if not rest:
                    return None
                params[part[1:-2]] = unquote("/".join(rest))
                return params
            if i >= len(segments):
                return None
            if part.startswith("{") and part.endswith("}"):
                if not segments[i]:
                    return None
                params[part[1:-1]] = unquote(segments[i])
            elif part != segments[i]:
                return None
        return params if len(segments) == len(self.segments) else None


@cache
def routes() -> tuple[Route, ...]:
    """Every operation of the model, as a route."""
    model = service_model(SERVICE)
    out = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path = str(http["requestUri"]).partition("?")[0]
        out.append(Route(name, str(http["method"]), tuple(path.strip("/").split("/"))))
    return tuple(out)


def split_path(raw_path: str) -> list[str]:
    """The encoded segments of a path."""
    return raw_path.strip("/").split("/")


def find_route(method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
    """The model's operation at a method and path, with its path parameters."""
    segments = split_path(raw_path)
    for route in routes():
        params = route.match(method, segments)
        if params is not None:
            return route, params
    return None


def is_inspector_path(method: str, raw_path: str) -> bool:
    """Whether an operation of the model lives at this method and path."""
    return find_route(method, raw_path) is not None


def render_error(error: AwsError, request_id: str) -> Response:
    """restJson1's error answer."""
    doc: dict[str, Any] = {"message": error.message, **error.members}
    headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error.code}
    if error.status in (429, 500):
        headers["Retry-After"] = "1"
    return Response(orjson.dumps(doc), error.status, headers, media_type="application/json")


class InspectorProtocol:
    """The restJson1 adapter of the Inspector2 operation table."""

    def __init__(self, core: AwsCore) -> None:
        self.core = core

    async def __call__(self, request: Request) -> Response:
        """One Inspector2 request, answered."""
        request_id = new_request_id()
        try:
            status, headers, out = await self._answer(request, request_id)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an AWS answer
            error = translate(exc, DEFAULTS, "InternalServerException")
            if error.code == "ValidationException" and "reason" not in error.members:
                error.members.update(reason="OTHER", fields=[])
            return render_error(error, request_id)
        return Response(
            orjson.dumps(out),
            status,
            {"x-amzn-RequestId": request_id, **headers},
            media_type="application/json",
        )

    async def _answer(
        self, request: Request, request_id: str
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        caller = await self.core.authenticate(request, SERVICE)
        raw_path = (request.scope.get("raw_path") or request.scope["path"].encode()).decode(
            "latin-1"
        )
        found = find_route(request.method, raw_path.partition("?")[0])
        handler = inspector.OPERATIONS.get(found[0].name) if found else None
        if found is None or handler is None:
            raise AwsError(
                "UnknownOperationException", f"No operation at {request.method} {raw_path}.", 404
            )
        route, params = found
        model = service_model(SERVICE).operation_model(route.name)
        doc = parse_body(caller.body, self.core.limits.max_depth)
        doc.update(_located(model, params, request))
        body, problems = check_input(model.input_shape, doc)
        if problems:
            raise validation_error(problems)
        out = await self.core.run(handler, caller, body, request_id)
        return _shape_answer(model, out)


def validation_error(problems: list[Problem]) -> AwsError:
    """Inspector2's ValidationException naming each failing field."""
    return AwsError(
        "ValidationException",
        summary(problems),
        400,
        members={
            "reason": "CANNOT_PARSE"
            if any(p.wrong_type for p in problems)
            else "FIELD_VALIDATION_FAILED",
            "fields": [{"name": p.path, "message": p.constraint} for p in problems[:10]],
        },
    )


def _located(model: OperationModel, params: dict[str, str], request: Request) -> dict[str, Any]:
    """Path, query and header members by member name, typed as their shapes say."""
    shape = model.input_shape
    if not isinstance(shape, StructureShape):
        return {}
    query = query_pairs(request.scope.get("query_string", b"").decode("latin-1"))
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        where = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if where == "uri" and wire in params:
            out[name] = params[wire]
        elif where == "querystring":
            values = [v for k, v in query if k == wire]
            if values:
                out[name] = values if member.type_name == "list" else _scalar(member, values[0])
        elif where == "header" and wire.lower() in request.headers:
            out[name] = _scalar(member, request.headers[wire.lower()])
    return out


def _scalar(shape: Shape, text: str) -> Any:
    """A query or header value as its shape's type (left a string when it does not parse, so
    that the shape check names it)."""
    if shape.type_name in ("integer", "long"):
        return int(text) if text.lstrip("-").isdigit() else text
    if shape.type_name == "boolean":
        return {"true": True, "false": False}.get(text, text)
    if shape.type_name in ("double", "float"):
        try:
            return float(text)
        except ValueError:
            return text
    return text


def _shape_answer(
    model: OperationModel, out: dict[str, Any]
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Status, header members and the JSON body of an output."""
    status = int(model.http.get("responseCode", 200))
    shape = model.output_shape
    headers: dict[str, str] = {}
    body = serialize_output(shape, out) or {}
    if isinstance(shape, StructureShape):
        for name, member in shape.members.items():
            where = member.serialization.get("location")
            if where == "header" and name in body:
                headers[member.serialization.get("name", name)] = str(body.pop(name))
            elif where == "statusCode" and name in body:
                status = int(body.pop(name))
    return status, headers, body
