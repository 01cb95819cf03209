"""The one reader of JSON request input: bodies and JSON query parameters, bounded and typed.

Every JSON document a client sends passes here before any handler sees it: the size is checked
while the body streams in (413 beyond the limit, before parsing), orjson parses it (its own
nesting limit stops a pathological document in C, without Python recursion), and the nesting
depth is checked again, iteratively, against a much smaller limit, so no parser further on can
recurse deeply. Declared `Shape`s then check every top-level field against its declaration
(its JSON types, then the JSON Schema that refines them: enums, bounds, item shapes), naming the
field in the 400 answer, before a handler reads it. The same declaration is the request body's
schema in the OpenAPI document (`openapi.py`), so what is checked and what is documented are one.
jsonschema (a runtime dependency for this) evaluates the refinements: it is the reference
implementation of the JSON Schema dialect OpenAPI 3.1 uses, so the reader and the document
cannot read one declaration two ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request

from dockwatch.errors import InvalidInput
from dockwatch.value_class import frozen

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 64


class BodyTooLarge(InvalidInput):
    """A request body larger than the limit (413)."""


@frozen
class Limits:
    """How large and how deep a JSON document may be."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH


def depth_of(doc: Any) -> int:
    """The nesting depth of arrays and objects (a scalar: 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children)
    return deepest


def parse_json(raw: bytes | str, where: str, limits: Limits) -> Any:
    """A JSON document within the limits, else InvalidInput naming `where`."""
    if len(raw) > limits.max_bytes:
        raise BodyTooLarge(f"{where} exceeds {limits.max_bytes} bytes")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc) or "recursion" in str(exc):
            raise InvalidInput(f"{where} is nested deeper than {limits.max_depth} levels") from None
        raise InvalidInput(f"{where} is not valid JSON: {exc}") from None
    if depth_of(doc) > limits.max_depth:
        raise InvalidInput(f"{where} is nested deeper than {limits.max_depth} levels")
    return doc


async def read_raw(request: Request, limits: Limits) -> bytes:
    """The request body, refused (413) as soon as it exceeds the limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_bytes:
        raise BodyTooLarge(f"the body exceeds {limits.max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limits.max_bytes:
            raise BodyTooLarge(f"the body exceeds {limits.max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "object": (dict,),
    "array": (list,),
}


@frozen
class Field:
    """One top-level field: its name, the JSON types it may have, whether it must be there,
    whether null stands for "absent" (`nullable`), and a JSON Schema (2020-12) that refines the
    types (enum, bounds, the shape of items); `description` documents it."""

    name: str
    types: tuple[str, ...]
    required: bool = False
    schema: Mapping[str, Any] | None = None
    nullable: bool = False
    description: str = ""
    message: str = ""
    """What to answer when `schema` fails (else the schema error, naming where)."""
    _compiled: Draft202012Validator | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def _validator(self) -> Draft202012Validator | None:
        """`schema` compiled, on first use; schemas are checked against the meta-schema by a
        test."""
        return compiled_once(self, self.schema)

    def json_schema(self) -> dict[str, Any]:
        """The field's value as JSON Schema: its types, refined by `schema`."""
        out: dict[str, Any] = {"type": list(self.types) if len(self.types) > 1 else self.types[0]}
        out.update(self.schema or {})
        if self.description:
            out["description"] = self.description
        if self.nullable:
            out = {"anyOf": [out, {"type": "null"}]}
        return out

    def check(self, doc: Mapping[str, Any]) -> None:
        """InvalidInput naming this field when it is missing, of another type, or outside its
        schema."""
        if self.check_type(doc):
            self.check_schema(doc)

    def check_type(self, doc: Mapping[str, Any]) -> bool:
        """InvalidInput naming this field when it is missing or of another type; whether it
        holds a value to check further."""
        if self.name not in doc or (doc[self.name] is None and self.nullable):
            if self.required:
                raise InvalidInput(f"{self.name} is required")
            return False
        value = doc[self.name]
        if value is None:
            raise InvalidInput(f"{self.name}: must be {' or '.join(self.types)}, got null")
        if not any(_is_a(value, name) for name in self.types):
            expected = " or ".join(self.types)
            raise InvalidInput(f"{self.name}: must be {expected}, got {_json_type(value)}")
        return True

    def check_schema(self, doc: Mapping[str, Any]) -> None:
        """InvalidInput naming where this field's value breaks its schema."""
        validator = self._validator()
        if validator is not None:
            if self.message and not validator.is_valid(doc[self.name]):
                raise InvalidInput(self.message)
            _raise_first(validator, doc[self.name], self.name)


def compiled_once(owner: Any, schema: Mapping[str, Any] | None) -> Draft202012Validator | None:
    """The validator of `schema`, compiled by the first call and kept in `owner._compiled` (a
    frozen declaration's field); None without a schema. The declarations that hold schemas are
    made when their route modules are imported, and compile them on first use: importing
    jsonschema took 60 ms of every server's start, before it could answer anything."""
    if schema is None:
        return None
    compiled: Draft202012Validator | None = owner._compiled
    if compiled is None:
        from jsonschema import Draft202012Validator

        compiled = Draft202012Validator(dict(schema))
        object.__setattr__(owner, "_compiled", compiled)
    return compiled


def _raise_first(validator: Draft202012Validator, value: Any, name: str) -> None:
    """InvalidInput with the most relevant schema error (inside an anyOf, the branch that came
    closest), naming where it is."""
    from jsonschema.exceptions import best_match  # imported with the validator, not at start

    error = best_match(validator.iter_errors(value))
    while error is not None and error.context:  # an anyOf: the deepest of its branches' errors
        error = max(error.context, key=lambda e: len(e.absolute_path))
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
            extra = sorted(k for k in error.instance if k not in allowed)
            if extra:  # name the field itself, as the domain parsers do
                expected = ", ".join(sorted(allowed))
                raise InvalidInput(f"{name}{where}.{extra[0]}: unknown field (expected {expected})")
        raise InvalidInput(f"{name}{where}: {error.message}")


@frozen
class Shape:
    """A request body: a JSON object with typed top-level fields. A `closed` shape refuses
    unknown fields; an open one leaves them to the domain parser."""

    fields: tuple[Field, ...]
    closed: bool = False
    description: str = ""
    constraints: Mapping[str, Any] | None = None
    """A JSON Schema the whole body must also meet (rules between fields)."""
    constraints_message: str = ""
    """What to answer when `constraints` fail (else the schema error, naming where)."""
    enforce_constraints: bool = True
    """False when the domain parser checks the same rules and names the failing field better
    than a schema error can (an `anyOf` failure names a branch, not the field)."""
    _compiled: Draft202012Validator | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def _validator(self) -> Draft202012Validator | None:
        """`constraints` compiled, on first use; checked against the meta-schema by a test."""
        return compiled_once(self, self.constraints)

    def json_schema(self) -> dict[str, Any]:
        """The body as JSON Schema (a closed shape allows no other field)."""
        out: dict[str, Any] = {
            "type": "object",
            "properties": {f.name: f.json_schema() for f in self.fields},
        }
        required = [f.name for f in self.fields if f.required]
        if required:
            out["required"] = required
        if self.closed:
            out["additionalProperties"] = False
        if self.constraints:
            out = {**out, **self.constraints}
        if self.description:
            out["description"] = self.description
        return out

    def check(self, doc: Any) -> dict[str, Any]:
        """`doc` as an object whose declared fields have their types, else InvalidInput."""
        if not isinstance(doc, dict):
            raise InvalidInput(f"the body must be a JSON object, got {_json_type(doc)}")
        if self.closed:
            names = [f.name for f in self.fields]
            unknown = sorted(set(doc) - set(names))
            if unknown:
                expected = ", ".join(sorted(names))
                raise InvalidInput(f"unknown field {unknown[0]!r} (expected: {expected})")
        present = [one for one in self.fields if one.check_type(doc)]  # every type first
        for one in present:
            one.check_schema(doc)
        validator = self._validator()
        if validator is not None and self.enforce_constraints:
            if self.constraints_message and not validator.is_valid(doc):
                raise InvalidInput(self.constraints_message)
            _raise_first(validator, doc, "the body")
        return doc


def _is_a(value: Any, name: str) -> bool:
    """Whether `value` has the JSON type `name` as JSON Schema counts (true is no number; 2.0
    is an integer)."""
    if isinstance(value, bool):
        return name == "boolean"
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _JSON_TYPES[name])


def _json_type(value: Any) -> str:
    for name, types in _JSON_TYPES.items():
        if isinstance(value, bool) != (name == "boolean"):
            continue
        if isinstance(value, types):
            return name
    return "null" if value is None else type(value).__name__


_STATE_KEY = "json_body"


async def read_body(request: Request, shape: Shape | None, limits: Limits) -> None:
    """Read, bound and check the body of an operation before its handler runs; an operation
    without a declared body accepts none (or an empty object)."""
    raw = await read_raw(request, limits)
    if shape is None:
        if raw.strip() and parse_json(raw, "the body", limits) != {}:
            raise InvalidInput("this operation takes no body")
        return
    doc = parse_json(raw or b"{}", "the body", limits)
    request.state.json_body = shape.check(doc)


def json_body(request: Request) -> dict[str, Any]:
    """The body `read_body` read and checked for this request."""
    doc = getattr(request.state, _STATE_KEY, None)
    if doc is None:
        raise RuntimeError("the operation declares no request body")
    return dict(doc)


JSON_QUERY_PARAMS = ("filterCriteria",)
"""Query parameters whose value is a JSON document."""


def check_json_query(request: Request, limits: Limits) -> None:
    """Bound every JSON query parameter (`filterCriteria`) as a body is bounded, before the
    handler's parser reads it."""
    for name in JSON_QUERY_PARAMS:
        for value in request.query_params.getlist(name):
            parse_json(value, name, limits)
