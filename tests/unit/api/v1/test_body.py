"""The JSON reader's limits and the typed field checks."""

from __future__ import annotations

import json
import sys

import pytest

from dockwatch.api.v1.body import BodyTooLarge, Field, Limits, Shape, depth_of, parse_json
from dockwatch.errors import InvalidInput


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [0, 1, 2, 63, 64])
def test_depth_is_counted_as_the_stdlib_would_nest(depth: int) -> None:
    doc = json.loads(_nested(depth)) if depth else 5
    assert depth_of(doc) == depth


def test_depth_of_mixed_documents() -> None:
    assert depth_of({"a": [{"b": 1}], "c": 2}) == 3
    assert depth_of([]) == 1 and depth_of({}) == 1 and depth_of("x") == 0


@pytest.mark.parametrize("depth", [65, 1000, 1025, 100_000, 3 * sys.getrecursionlimit()])
def test_deep_documents_are_refused_without_recursion(depth: int) -> None:
    with pytest.raises(InvalidInput, match="nested deeper than 64"):
        parse_json(_nested(depth), "the body", Limits(max_bytes=10**7))


def test_size_limit() -> None:
    with pytest.raises(BodyTooLarge):
        parse_json(b" " * 11 + b"{}", "the body", Limits(max_bytes=12))
    assert parse_json(b" " * 10 + b"{}", "the body", Limits(max_bytes=12)) == {}


def test_invalid_json_names_where() -> None:
    with pytest.raises(InvalidInput, match="^filterCriteria is not valid JSON"):
        parse_json("{", "filterCriteria", Limits())


@pytest.mark.parametrize(
    ("types", "value", "ok"),
    [
        (("string",), "x", True),
        (("string",), 1, False),
        (("boolean",), True, True),
        (("boolean",), 1, False),
        (("integer",), True, False),
        (("integer",), 3, True),
        (("integer",), 3.5, False),
        (("number",), 3.5, True),
        (("object",), {}, True),
        (("object",), [], False),
        (("array",), [], True),
        (("integer", "string"), "5", True),
    ],
)
def test_field_types(types: tuple[str, ...], value: object, ok: bool) -> None:
    shape = Shape((Field("f", types),))
    if ok:
        assert shape.check({"f": value}) == {"f": value}
    else:
        with pytest.raises(InvalidInput, match=r"^f: must be "):
            shape.check({"f": value})


def test_required_fields_and_nulls() -> None:
    shape = Shape((Field("need", ("string",), required=True), Field("opt", ("string",))))
    assert shape.check({"need": "x", "opt": None}) == {"need": "x", "opt": None}
    with pytest.raises(InvalidInput, match="^need is required"):
        shape.check({"opt": "y"})
    with pytest.raises(InvalidInput, match="must be a JSON object, got array"):
        shape.check([1])
