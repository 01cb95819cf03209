"""The JSON reader's limits and the typed field checks."""

from __future__ import annotations

import json
import sys
from typing import Any

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
    shape = Shape(
        (
            Field("need", ("string",), required=True),
            Field("opt", ("string",), nullable=True),
            Field("plain", ("string",)),
        )
    )
    assert shape.check({"need": "x", "opt": None}) == {"need": "x", "opt": None}
    with pytest.raises(InvalidInput, match="^need is required"):
        shape.check({"opt": "y"})
    with pytest.raises(InvalidInput, match="^plain: must be string, got null"):
        shape.check({"need": "x", "plain": None})
    with pytest.raises(InvalidInput, match="must be a JSON object, got array"):
        shape.check([1])


def test_an_integral_number_is_an_integer_as_json_schema_counts() -> None:
    field = Field("n", ("integer",))
    field.check({"n": 2.0})
    with pytest.raises(InvalidInput, match="must be integer, got number"):
        field.check({"n": 2.5})


def test_a_field_schema_refines_its_types_and_names_where() -> None:
    shape = Shape(
        (
            Field("kind", ("string",), schema={"enum": ["A", "B"]}),
            Field("items", ("array",), schema={"items": {"type": "integer", "maximum": 3}}),
        )
    )
    shape.check({"kind": "A", "items": [1, 3]})
    with pytest.raises(InvalidInput, match="^kind: 'C' is not one of"):
        shape.check({"kind": "C"})
    with pytest.raises(InvalidInput, match=r"^items\[1\]: 4 is greater than the maximum of 3"):
        shape.check({"items": [1, 4]})


def test_a_closed_shape_refuses_unknown_fields_and_says_so_in_its_schema() -> None:
    shape = Shape((Field("a", ("string",)),), closed=True)
    with pytest.raises(InvalidInput, match="^unknown field 'b' \\(expected: a\\)"):
        shape.check({"a": "x", "b": 1})
    assert shape.json_schema()["additionalProperties"] is False
    assert Shape((Field("a", ("string",)),)).json_schema().get("additionalProperties") is None


def test_constraints_between_fields_are_checked_and_published() -> None:
    rule = {"if": {"required": ["a"]}, "then": {"required": ["b"]}}
    shape = Shape((Field("a", ("string",)), Field("b", ("string",))), constraints=rule)
    shape.check({"a": "x", "b": "y"})
    with pytest.raises(InvalidInput, match="^the body: 'b' is a required property"):
        shape.check({"a": "x"})
    assert shape.json_schema()["then"] == {"required": ["b"]}


def test_the_published_schema_accepts_what_the_reader_accepts() -> None:
    """The reader and the document are one declaration: jsonschema on the published schema
    agrees with `Shape.check` on valid and invalid documents of every real body."""
    from jsonschema import Draft202012Validator

    from dockwatch.api.v1.bodies import BODIES

    samples: list[Any] = [
        {}, {"scanType": "BASIC", "rules": []}, {"scanType": "X"}, {"scanOnPush": True},
        {"scanOnPush": None}, {"maxResults": 5}, {"maxResults": 0}, {"maxResults": 2.0},
        {"aggregationType": "REPOSITORY"}, {"aggregationType": 3}, {"url": "https://h.example/"},
        {"url": "ftp://x"}, {"filterCriteria": {"severity": [{"comparison": "EQUALS",
        "value": "HIGH"}]}}, {"filterCriteria": {"nope": []}}, {"nextToken": None},
        {"action": "SUPPRESS", "name": "abc", "filterCriteria": {}},
        {"action": "NONE", "name": "abc", "filterCriteria": {}},
    ]  # fmt: skip
    for key, shape in BODIES.items():
        validator = Draft202012Validator(shape.json_schema())
        for doc in samples:
            try:
                shape.check(doc)
                reader = True
            except InvalidInput:
                reader = False
            assert validator.is_valid(doc) == reader, (key, doc)
