"""JSON Schema building blocks shared by the /api/v1 contracts, derived from the domain's own
tables (filter keys, enums, name grammars) so that the document follows the code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockwatch.findings.criteria import ENUM_VALUES, MAX_FILTERS, MAX_VALUE
from dockwatch.model.finding_criteria import (
    DATE_KEYS,
    NUMBER_KEYS,
    PACKAGE_FIELDS,
    PACKAGE_KEY,
    STRING_KEYS,
    Comparison,
)
from dockwatch.model.page_token import MAX_TOKEN_CHARS
from dockwatch.registry.names import MAX_NAME_LENGTH, NAME_RE, TAG_RE

from ..openapi import Param

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
ANY_OBJECT: Schema = {"type": "object"}
TIME: Schema = {"type": "string", "description": "ISO 8601 time"}
OPTIONAL_TIME: Schema = {"type": ["string", "null"], "description": "ISO 8601 time, or null"}
OPTIONAL_STRING: Schema = {"type": ["string", "null"]}


def obj(
    required: Mapping[str, Schema] | None = None,
    optional: Mapping[str, Schema] | None = None,
    *,
    closed: bool = False,
) -> Schema:
    """An object with `required` and `optional` properties (`closed`: no others)."""
    req = dict(required or {})
    out: Schema = {"type": "object", "properties": {**req, **(optional or {})}}
    if req:
        out["required"] = list(req)
    if closed:
        out["additionalProperties"] = False
    return out


def array(items: Schema, **limits: int) -> Schema:
    """An array of `items` (limits: minItems, maxItems)."""
    return {"type": "array", "items": items, **limits}


def enum(values: Any) -> Schema:
    """One of `values` (a sequence or a StrEnum)."""
    return {"type": "string", "enum": [str(getattr(v, "value", v)) for v in values]}


# --- names -------------------------------------------------------------------------------------

REPOSITORY_NAME: Schema = {
    "type": "string",
    "pattern": NAME_RE.pattern,
    "maxLength": MAX_NAME_LENGTH,
    "description": "A repository name (it may hold slashes)",
}
DIGEST: Schema = {"type": "string", "pattern": "^sha256:[a-f0-9]{64}$"}
REFERENCE: Schema = {
    "anyOf": [{"type": "string", "pattern": TAG_RE.pattern}, DIGEST],
    "description": "A tag or a digest",
}
NAME_PARAM = Param("name", REPOSITORY_NAME, "The repository name", where="path")
REFERENCE_PARAM = Param("reference", REFERENCE, "A tag or a digest", where="path")
IMAGE_PARAMS = (NAME_PARAM, REFERENCE_PARAM)

# --- times -------------------------------------------------------------------------------------

_ISO = (
    "[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    "(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?"
)
ISO_TIME: Schema = {
    "type": "string",
    "pattern": f"^{_ISO}$",
    "description": "ISO 8601: a date, or a date and time with its offset",
}
"""An ISO 8601 date or time as `datetime.fromisoformat` reads it (days past the 28th are left
out of the pattern only so that every string it allows is a real date)."""
EPOCH_OR_ISO: Schema = {
    "type": "string",
    "pattern": f"^([0-9]{{1,10}}(\\.[0-9]{{1,6}})?|{_ISO})$",
    "description": "Epoch seconds or ISO 8601",
}

# --- paging ------------------------------------------------------------------------------------

TOKEN: Schema = {
    "type": "string",
    "maxLength": MAX_TOKEN_CHARS,
    "description": "A token from the previous page's answer (opaque, bound to the request); "
    "empty: the first page",
}


def max_results(top: int) -> Param:
    """`maxResults` from 1 to `top`."""
    return Param(
        "maxResults", {"type": "integer", "minimum": 1, "maximum": top}, f"Page size (1-{top})"
    )


NEXT_TOKEN = Param("nextToken", TOKEN, "Resume after the previous page")

# --- filter criteria ---------------------------------------------------------------------------

CLEAN_TEXT: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_VALUE,
    "pattern": "^[^\\u0000]*$",
}


def string_filter(values: tuple[str, ...] | None = None) -> Schema:
    """Inspector's StringFilter; for an enum key, EQUALS / NOT_EQUALS take one of its values."""
    free = obj({"comparison": enum(Comparison), "value": CLEAN_TEXT}, closed=True)
    if values is None:
        return free
    exact = enum([Comparison.EQUALS, Comparison.NOT_EQUALS])
    return {
        "anyOf": [
            obj({"comparison": exact, "value": enum(values)}, closed=True),
            obj({"comparison": enum([Comparison.PREFIX]), "value": CLEAN_TEXT}, closed=True),
        ]
    }


def filters(item: Schema) -> Schema:
    """A list of 1 to MAX_FILTERS filters."""
    return array(item, minItems=1, maxItems=MAX_FILTERS)


def _or_null(schema: Schema) -> Schema:
    """`schema`, or null: the server reads a null member as an absent one."""
    return {"anyOf": [schema, {"type": "null"}]}


EPOCH_OR_TIME: Schema = {
    "anyOf": [{"type": "number", "minimum": 0, "maximum": 253402300799}, EPOCH_OR_ISO]
}
DATE_FILTER = obj(
    optional={"startInclusive": _or_null(EPOCH_OR_TIME), "endInclusive": _or_null(EPOCH_OR_TIME)},
    closed=True,
)
NUMBER_FILTER = obj(
    optional={"lowerInclusive": _or_null(NUMBER), "upperInclusive": _or_null(NUMBER)}, closed=True
)
"""A range's bounds are optional; a null bound is an absent one (findings/criteria.py)."""
PACKAGE_FILTER: Schema = {
    **obj(
        optional={
            **{name: string_filter() for name in PACKAGE_FIELDS},
            "epoch": NUMBER_FILTER,
        },
        closed=True,
    ),
    "minProperties": 1,
}


FILTER_CRITERIA: Schema = obj(
    optional={
        **{k: _or_null(filters(string_filter(ENUM_VALUES.get(k)))) for k in STRING_KEYS},
        **{k: _or_null(filters(DATE_FILTER)) for k in DATE_KEYS},
        **{k: _or_null(filters(NUMBER_FILTER)) for k in NUMBER_KEYS},
        PACKAGE_KEY: _or_null(filters(PACKAGE_FILTER)),
    },
    closed=True,
)
"""Inspector's FilterCriteria as dockwatch evaluates it (`model.finding_criteria`); a null
criterion is the same as an absent one."""
