"""The OpenAPI 3.1 document of /api/v1, generated from what each operation declares.

Every operation has a `Contract` (`schemas/`): its query parameters, the schema of its success
answer, and the errors it can answer beyond the ones every operation shares. The request body's
schema is the `Shape` the request reader checks (`bodies.py`), and path parameters come from the
route's path, so the document is built from the same declarations the server runs on.
`missing_contracts` names the operations that declare none; a test keeps that list empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request

from dockwatch.errors import InvalidInput
from dockwatch.value_class import frozen

from .body import Shape, compiled_once
from .codes import CODES

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

Schema = Mapping[str, Any]

JSON = "application/json"


@frozen
class Param:
    """A query or path parameter: its schema is the value's (one string on the wire, or a
    repeated parameter when `repeats`)."""

    name: str
    schema: Schema
    description: str = ""
    required: bool = False
    repeats: bool = False
    where: str = "query"
    most: int = 10
    """How many times a repeating parameter may be given."""
    _compiled: Draft202012Validator | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def check(self, raw: str) -> None:
        """InvalidInput naming this parameter when `raw` (one value as sent) breaks its schema."""
        value: Any = raw
        kind = self.schema.get("type")
        try:
            if kind == "integer":
                value = int(raw)
            elif kind == "number":
                value = float(raw)
        except ValueError:
            raise InvalidInput(f"{self.name}: {raw!r} is not a {kind}") from None
        if kind == "boolean":
            if raw not in ("true", "false"):
                raise InvalidInput(f"{self.name}: must be true or false")
            value = raw == "true"
        validator = compiled_once(self, self.schema)  # the schema is checked by a test
        assert validator is not None
        error = next(iter(validator.iter_errors(value)), None)
        if error is not None and error.validator == "enum":
            valid = ", ".join(str(v) for v in error.validator_value)
            raise InvalidInput(f"{self.name}: {raw!r} is not valid; valid {self.name}s: {valid}")
        if error is not None:
            raise InvalidInput(f"{self.name}: {error.message}")

    def document(self) -> dict[str, Any]:
        """The OpenAPI Parameter Object."""
        schema: dict[str, Any] = dict(self.schema)
        if self.repeats:
            schema = {"type": "array", "items": schema, "minItems": 1, "maxItems": self.most}
        out: dict[str, Any] = {"name": self.name, "in": self.where, "schema": schema}
        if self.required or self.where == "path":
            out["required"] = True
        if self.repeats:
            out["style"], out["explode"] = "form", True
        if self.description:
            out["description"] = self.description
        return out


@frozen
class Contract:
    """What one operation takes and answers. `response` is the JSON body of a success, or
    `media` lists the media types of a non-JSON answer (with `response` as the JSON one's)."""

    response: Schema
    params: tuple[Param, ...] = ()
    path_params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    media: tuple[str, ...] = (JSON,)
    open_query: bool = False
    """Whether the handler reads query parameters beyond `params` (and names the ones it
    refuses); otherwise an undeclared query parameter is refused before it runs."""


class Documented(Protocol):
    """What the document needs of a route (`router.Operation`)."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def body(self) -> Shape | None: ...


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["__type", "message"],
    "properties": {
        "__type": {"enum": sorted(CODES)},
        "message": {"type": "string"},
    },
    "additionalProperties": False,
}

SHARED_ERRORS = (401, 429, 503)
"""Every operation: credentials (401), failed-authentication backoff (429, `Retry-After`), a
busy verification gate or a failed storage backend (503)."""

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

PLAIN = "text/plain; charset=utf-8"
"""The HTTP layer's own 400, before the application reads the request: a request line or
headers past its limit (a URL over about 64 KiB, which repeated query values can reach)."""

_DESCRIPTIONS = {
    400: "The request is malformed; `message` names the field. A request line or headers over"
    " the HTTP layer's limit (about 64 KiB) get its plain-text 400 instead.",
    401: "Credentials are missing or wrong.",
    403: "The credentials do not allow this.",
    404: "The named repository, image or resource does not exist.",
    405: "The path does not take this method (`Allow` lists those it takes).",
    409: "The request contradicts the stored state.",
    413: "The request body exceeds the limit.",
    429: "Too many failed authentications from this address or for this user.",
    503: "A storage backend failed or too many authentications are waiting; retry later.",
}

_RETRY_AFTER = {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait."}}


def check_query(request: Request, params: Sequence[Param], closed: bool = False) -> None:
    """Check every declared query parameter the request carries against its declaration (the
    one the document publishes): given once unless it repeats, and of its schema; when
    `closed`, refuse the parameters it does not declare."""
    if closed:
        known = {p.name for p in params if p.where == "query"}
        for name in request.query_params:
            if name not in known:
                expected = ", ".join(sorted(known)) or "none"
                raise InvalidInput(f"unknown query parameter {name!r} (expected: {expected})")
    for param in params:
        if param.where != "query":
            continue
        values = request.query_params.getlist(param.name)
        if len(values) > 1 and not param.repeats:
            raise InvalidInput(f"{param.name}: give it once")
        if len(values) > param.most:
            raise InvalidInput(f"{param.name}: give it at most {param.most} times")
        for value in values:
            param.check(value)


def path_names(path: str) -> list[str]:
    """The parameter names of a Starlette path (`{name:path}` -> `name`)."""
    return [seg[1:-1].split(":")[0] for seg in path.split("/") if seg.startswith("{")]


def error_statuses(op: Documented, contract: Contract) -> list[int]:
    """The error statuses an operation can answer: the shared ones, 400 when it reads any
    input, 404 when its path names something, 413 when it reads a body, and its own."""
    statuses = set(SHARED_ERRORS) | set(contract.errors)
    if contract.params or op.body is not None or path_names(op.path) or op.method in BODY_METHODS:
        statuses.add(400)
    if path_names(op.path):
        statuses.add(404)
    if op.method in BODY_METHODS:
        statuses |= {400, 413}
    return sorted(statuses)


def _responses(op: Documented, contract: Contract) -> dict[str, Any]:
    content = {m: {"schema": dict(contract.response)} for m in contract.media}
    out: dict[str, Any] = {str(op.status): {"description": op.summary, "content": content}}
    for status in error_statuses(op, contract):
        answer: dict[str, Any] = {
            "description": _DESCRIPTIONS[status],
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        if status == 400:
            answer["content"][PLAIN] = {"schema": {"type": "string"}}
        if status == 429:
            answer["headers"] = {"Retry-After": {**_RETRY_AFTER["Retry-After"], "required": True}}
        if status == 503:
            answer["headers"] = dict(_RETRY_AFTER)
        out[str(status)] = answer
    return out


def operation_document(op: Documented, contract: Contract) -> dict[str, Any]:
    """The OpenAPI Operation Object of one route."""
    declared = {p.name: p for p in contract.path_params}
    params = [
        declared.get(name, Param(name, {"type": "string", "minLength": 1}, where="path")).document()
        for name in path_names(op.path)
    ]
    params += [p.document() for p in contract.params]
    out: dict[str, Any] = {
        "operationId": operation_id(op),
        "summary": op.summary,
        "parameters": params,
        "responses": _responses(op, contract),
    }
    if op.body is not None:
        out["requestBody"] = {
            "required": any(f.required for f in op.body.fields),
            "content": {JSON: {"schema": op.body.json_schema()}},
        }
    return out


def operation_id(op: Documented) -> str:
    """A stable id from the method and path (`GET /api/v1/webhooks/{id}` -> `getWebhooksId`)."""
    words = [w for seg in path_names_free(op.path) for w in seg.replace("-", " ").split()]
    return op.method.lower() + "".join(w[:1].upper() + w[1:] for w in words)


def path_names_free(path: str) -> list[str]:
    """The words of a path without its /api/v1 prefix and braces."""
    parts = path.removeprefix("/api/v1/").split("/")
    return [p.strip("{}").split(":")[0] for p in parts if p]


def missing_contracts(
    operations: Iterable[Documented], contracts: Mapping[tuple[str, str], Contract]
) -> list[str]:
    """`METHOD path` of every operation that declares no contract."""
    return [f"{op.method} {op.path}" for op in operations if (op.method, op.path) not in contracts]


def document(
    operations: Sequence[Documented], contracts: Mapping[tuple[str, str], Contract]
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `operations`. One without a contract is listed with an
    undescribed JSON answer (`x-undeclared`), so that the server still starts; the contract test
    fails on it."""
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path = "/".join(
            "{" + seg[1:-1].split(":")[0] + "}" if seg.startswith("{") else seg
            for seg in op.path.split("/")
        )
        contract = contracts.get((op.method, op.path))
        entry = operation_document(op, contract or Contract({}))
        if contract is None:
            entry["x-undeclared"] = True
        paths.setdefault(path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dockwatch",
            "version": "1",
            "description": "The JSON API of dockwatch: repositories, images, scanning, findings "
            "(Inspector's shapes), suppression rules, exports, SBOMs and webhooks. Errors are "
            'AWS-style bodies: {"__type": ..., "message": ...}.',
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
        },
        "security": [{"basic": []}],
    }
