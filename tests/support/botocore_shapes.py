"""Check a JSON answer against an output shape of botocore's service model (the oracle for the
ECR and Inspector shapes dockwatch serves).

Strict where botocore's parser is lenient: an unknown member, a missing required member, a
wrong type or a value outside an enum is reported, so that a test sees any drift from the model.
A JSON null counts as an absent member (botocore's parser skips it).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ServiceModel, Shape
from botocore.utils import parse_timestamp


@cache
def service(name: str) -> ServiceModel:
    """botocore's model of `name` (`ecr`, `inspector2`)."""
    return botocore.session.get_session().get_service_model(name)


def output_shape(service_name: str, operation: str) -> Shape:
    """The output shape of one operation."""
    shape = service(service_name).operation_model(operation).output_shape
    assert shape is not None, f"{operation} has no output"
    return shape


def problems(
    shape: Shape, value: Any, *, open_enums: Collection[str] = (), where: str = "$"
) -> list[str]:
    """Where `value` breaks `shape` (empty: it fits). `open_enums` names enum shapes whose
    values are not checked."""
    out: list[str] = []
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        members = shape.members  # type: ignore[attr-defined]
        required = shape.required_members
        out += [f"{where}.{n}: required member missing" for n in required if value.get(n) is None]
        for name, item in value.items():
            if name not in members:
                out.append(f"{where}.{name}: not a member of {shape.name}")
            elif item is not None:
                out += problems(members[name], item, open_enums=open_enums, where=f"{where}.{name}")
    elif kind == "list":
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        member = shape.member  # type: ignore[attr-defined]
        for i, item in enumerate(value):
            out += problems(member, item, open_enums=open_enums, where=f"{where}[{i}]")
    elif kind == "map":
        if not isinstance(value, dict):
            return [f"{where}: expected a map"]
        for key, item in value.items():
            out += problems(shape.key, key, open_enums=open_enums, where=f"{where}<key>")  # type: ignore[attr-defined]
            out += problems(shape.value, item, open_enums=open_enums, where=f"{where}.{key}")  # type: ignore[attr-defined]
    elif kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string, got {value!r}"]
        enum = shape.enum  # type: ignore[attr-defined]
        if enum and shape.name not in open_enums and value not in enum:
            out.append(f"{where}: {value!r} is not one of {shape.name} {sorted(enum)}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            out.append(f"{where}: expected an integer, got {value!r}")
    elif kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.append(f"{where}: expected a number, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            out.append(f"{where}: expected a boolean, got {value!r}")
    elif kind == "timestamp" and isinstance(value, datetime):
        if value.tzinfo is None:  # a handler's answer, before the protocol adapter's encoding
            out.append(f"{where}: {value!r} has no time zone")
    elif kind == "timestamp":
        try:
            parse_timestamp(value)
        except (ValueError, TypeError):
            out.append(f"{where}: {value!r} is not a timestamp botocore reads")
    return out


def assert_output(
    service_name: str, operation: str, value: Any, *, open_enums: Collection[str] = ()
) -> None:
    """Fail with every problem when `value` is not `operation`'s output shape."""
    found = problems(output_shape(service_name, operation), value, open_enums=open_enums)
    assert found == [], "\n".join(found)


def assert_shape(
    service_name: str, shape_name: str, value: Any, *, open_enums: Collection[str] = ()
) -> None:
    """Fail with every problem when `value` is not the named shape."""
    shape = service(service_name).shape_for(shape_name)
    found = problems(shape, value, open_enums=open_enums, where=shape_name)
    assert found == [], "\n".join(found)
