"""The JSON codec of event payloads: field names to camelCase wire names, typed values to JSON
and back, with the checks that make a damaged stored row read as a clear error rather than a
wrong value. Kept apart from the event types (`model.events`) so that module stays a catalogue."""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import Field, field, fields
from datetime import datetime
from typing import Any


def wire_field(name: str, default: Any = None) -> Any:
    """A field stored under another JSON name than its camelCase one."""
    return field(default=default, metadata={"wire": name})


_HINTS: dict[type[Any], dict[str, Any]] = {}
_FIELDS: dict[type[Any], tuple[Field[Any], ...]] = {}


def payload_hints(cls: type[Any]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def payload_fields(cls: type[Any]) -> tuple[Field[Any], ...]:
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = tuple(f for f in fields(cls) if f.name not in ("tenant", "at"))
    return found


@functools.cache
def wire_name(f: Field[Any]) -> str:
    wire = f.metadata.get("wire")
    if wire:
        return str(wire)
    head, *rest = f.name.split("_")
    return head + "".join(part.title() for part in rest)


def encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):  # strings are most items (ids, package keys): kept as they are
        return [v if type(v) is str else encode_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode_value(v) for k, v in value.items()}
    return value


def decode_value(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
        origin = typing.get_origin(hint)
    if hint is datetime:
        if not isinstance(value, str):
            raise TypeError(f"{key} is not a time")
        return datetime.fromisoformat(value)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise TypeError(f"{key} is not a list")
        item = typing.get_args(hint)[0]
        return tuple(decode_value(item, v, key) for v in value)
    if origin is Mapping or origin is dict:
        if not isinstance(value, dict):
            raise TypeError(f"{key} is not an object")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError(f"{key} is not true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{key} is not a number")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(f"{key} is not a string")
        return value
    return value
