"""A validator that walks a botocore shape (ASFF has no JSON Schema).

It checks what the service model states: structure members (unknown ones are errors, required
ones must be there), lists and maps (with their `min`/`max` sizes), string enums, lengths and
patterns, and the scalar types. Patterns follow Smithy: an ECMA 262 regex that is not anchored,
so `re.search`. Shapes are read from botocore's Security Hub model at run time; nothing of the
shape is copied here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import botocore.session


def securityhub_shape(name: str) -> Any:
    """A shape of botocore's Security Hub service model."""
    model = botocore.session.get_session().get_service_model("securityhub")
    return model.shape_for(name)


def _size(shape: Any, n: int, path: str, what: str) -> Iterator[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and n < low:
        yield f"{path}: {what} {n} < min {low}"
    if high is not None and n > high:
        yield f"{path}: {what} {n} > max {high}"


def validate(value: Any, shape: Any, path: str = "$") -> Iterator[str]:
    """Every way `value` breaks `shape`, as `path: problem` lines."""
    kind = shape.type_name
    if shape.metadata.get("document"):
        return
    if kind == "structure":
        if not isinstance(value, dict):
            yield f"{path}: expected an object for {shape.name}, got {type(value).__name__}"
            return
        for member in shape.required_members:
            if member not in value:
                yield f"{path}: missing required {member} ({shape.name})"
        for key, item in value.items():
            if key not in shape.members:
                yield f"{path}: unknown member {key} of {shape.name}"
                continue
            yield from validate(item, shape.members[key], f"{path}.{key}")
    elif kind == "list":
        if not isinstance(value, list):
            yield f"{path}: expected a list for {shape.name}"
            return
        yield from _size(shape, len(value), path, "length")
        for i, item in enumerate(value):
            yield from validate(item, shape.member, f"{path}[{i}]")
    elif kind == "map":
        if not isinstance(value, dict):
            yield f"{path}: expected a map for {shape.name}"
            return
        yield from _size(shape, len(value), path, "entries")
        for key, item in value.items():
            yield from validate(key, shape.key, f"{path}<key {key!r}>")
            yield from validate(item, shape.value, f"{path}[{key!r}]")
    elif kind == "string":
        if not isinstance(value, str):
            yield f"{path}: expected a string for {shape.name}, got {type(value).__name__}"
            return
        enum = shape.metadata.get("enum")
        if enum and value not in enum:
            yield f"{path}: {value!r} not in {enum}"
        yield from _size(shape, len(value), path, "length")
        pattern = shape.metadata.get("pattern")
        if pattern and re.search(pattern, value) is None:
            yield f"{path}: {value!r} does not match {pattern!r}"
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            yield f"{path}: expected an integer for {shape.name}"
            return
        yield from _size(shape, value, path, "value")
    elif kind in ("double", "float"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            yield f"{path}: expected a number for {shape.name}"
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield f"{path}: expected a boolean for {shape.name}"
    elif kind == "timestamp":
        if not isinstance(value, str | int | float):
            yield f"{path}: expected a timestamp for {shape.name}"
    elif kind == "blob":
        if not isinstance(value, str | bytes):
            yield f"{path}: expected a blob for {shape.name}"
    else:
        yield f"{path}: shape type {kind} not handled by this validator"
