"""Input checks and output serialization from botocore's service models (the shapes AWS
clients are generated from).

botocore's client checks only `required`, `min` and unions; AWS checks the rest on the server,
and so does `check_input`: JSON types, required members, enums, `min`/`max` (string length,
list and map size, number range) and `pattern`, each problem named by its member path in
Coral's form (`rules.1.member.scanFrequency`). Members the shape does not declare are dropped,
as AWS ignores them. `serialize_output` walks an output shape and writes timestamps in the
model's `timestampFormat` (epoch seconds unless a member says otherwise) and drops None.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from dockwatch.value_class import frozen


@cache
def service_model(name: str) -> ServiceModel:
    """botocore's model of `ecr` or `inspector2`."""
    return botocore.session.get_session().get_service_model(name)


def operation_model(service: str, operation: str) -> OperationModel | None:
    """An operation of a service's model, None when the model has no such operation."""
    model = service_model(service)
    if operation not in model.operation_names:
        return None
    return model.operation_model(operation)


@frozen
class Problem:
    """One member of the input that breaks its shape."""

    path: str
    """Coral's member path (`rules.1.member.scanFrequency`)."""
    value: Any
    constraint: str
    """What the value fails, in AWS's words ("Member must not be null")."""
    wrong_type: bool = False
    """The JSON type itself is wrong (AWS answers SerializationException)."""

    def sentence(self) -> str:
        """`Value 'x' at 'path' failed to satisfy constraint: ...`"""
        shown = "null" if self.value is None else f"'{_short(self.value)}'"
        return f"Value {shown} at '{self.path}' failed to satisfy constraint: {self.constraint}"


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 100 else text[:97] + "..."


def summary(problems: list[Problem]) -> str:
    """Coral's ValidationException message for a list of problems."""
    n = len(problems)
    head = f"{n} validation error{'s' if n != 1 else ''} detected: "
    return head + "; ".join(p.sentence() for p in problems[:10])


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "blob": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "double": (int, float),
    "float": (int, float),
    "timestamp": (int, float, str),
    "structure": (dict,),
    "list": (list,),
    "map": (dict,),
}


@cache
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None  # a Java-only construct: the pattern is not checked


def check_input(shape: StructureShape | None, value: Any) -> tuple[dict[str, Any], list[Problem]]:
    """The input with undeclared members dropped, and every problem found."""
    if shape is None:
        return {}, []
    problems: list[Problem] = []
    cleaned = _walk(shape, value, "", problems)
    return (cleaned if isinstance(cleaned, dict) else {}), problems


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _walk(shape: Shape, value: Any, path: str, problems: list[Problem]) -> Any:
    kind = shape.type_name
    if kind == "document":
        return value
    allowed = _JSON_TYPES.get(kind)
    wrong = allowed is not None and (
        not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed)
    )
    if wrong:
        problems.append(Problem(path or shape.name, value, f"Member must be a {kind}", True))
        return value
    if isinstance(shape, StructureShape):
        return _walk_structure(shape, value, path, problems)
    if isinstance(shape, ListShape):
        _bounds(shape, len(value), value, path, problems, "have length")
        return [
            _walk(shape.member, item, f"{_join(path, str(i + 1))}.member", problems)
            for i, item in enumerate(value)
        ]
    if isinstance(shape, MapShape):
        _bounds(shape, len(value), value, path, problems, "have length")
        out = {}
        for k, v in value.items():
            _walk(shape.key, k, f"{path}.key", problems)
            out[k] = _walk(shape.value, v, f"{path}.{k}", problems)
        return out
    if kind == "string":
        _string(shape, value, path, problems)
    elif kind in ("integer", "long", "double", "float"):
        _bounds(shape, value, value, path, problems, "have value")
    return value


def _walk_structure(
    shape: StructureShape, value: dict[str, Any], path: str, problems: list[Problem]
) -> dict[str, Any]:
    members = shape.members
    out: dict[str, Any] = {}
    problems.extend(
        Problem(_join(path, name), None, "Member must not be null")
        for name in shape.required_members
        if value.get(name) is None
    )
    for name, item in value.items():
        if name in members and item is not None:
            out[name] = _walk(members[name], item, _join(path, name), problems)
    if shape.metadata.get("union") and len(out) > 1:
        problems.append(Problem(path or shape.name, value, "Member must set exactly one member"))
    return out


def _string(shape: Shape, value: str, path: str, problems: list[Problem]) -> None:
    enum = shape.enum  # type: ignore[attr-defined]
    if enum and value not in enum:
        problems.append(
            Problem(path, value, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        )
        return
    _bounds(shape, len(value), value, path, problems, "have length")
    pattern = shape.metadata.get("pattern")
    if pattern:
        regex = _regex(pattern)
        if regex is not None and regex.fullmatch(value) is None:
            problems.append(
                Problem(path, value, f"Member must satisfy regular expression pattern: {pattern}")
            )


def _bounds(
    shape: Shape, measure: float, value: Any, path: str, problems: list[Problem], what: str
) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and measure < low:
        problems.append(Problem(path, value, f"Member must {what} greater than or equal to {low}"))
    if high is not None and measure > high:
        problems.append(Problem(path, value, f"Member must {what} less than or equal to {high}"))


def serialize_output(shape: Shape | None, value: Any) -> Any:
    """`value` as the JSON protocols send it: timestamps per the model, None left out."""
    if shape is None or value is None:
        return value
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        members = shape.members
        return {k: serialize_output(members.get(k), v) for k, v in value.items() if v is not None}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [serialize_output(shape.member, v) for v in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {k: serialize_output(shape.value, v) for k, v in value.items() if v is not None}
    if shape.type_name == "timestamp" and isinstance(value, datetime):
        fmt = shape.serialization.get("timestampFormat", "unixtimestamp")
        if fmt == "iso8601":
            return value.isoformat().replace("+00:00", "Z")
        return value.timestamp()
    return value
