"""Every /api/v1 operation, enumerated from the router: bounded bodies, typed fields, and HTTP
method semantics; the /v2 routes keep the OCI error shape."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.routing import Match, Route

from dockwatch.api.app import create_app
from dockwatch.api.v1.routes import OPERATIONS, routes
from dockwatch.app import Services

pytestmark = pytest.mark.anyio

BODY_METHODS = ("POST", "PUT", "PATCH")
VALUES = {"name": "team/x", "reference": "v1", "id": "w1", "ref": "r1", "findingId": "f1"}
SAMPLES: list[tuple[tuple[str, ...], Any]] = [
    (("integer", "number"), 7),
    (("string",), "yes"),
    (("array",), [1]),
    (("object",), {"a": 1}),
    (("boolean",), True),
]


def wrong_for(types: tuple[str, ...]) -> Any:
    """A JSON value of none of `types`."""
    return next(value for kinds, value in SAMPLES if not set(kinds) & set(types))


def concrete(path: str) -> str:
    """A request path for a route template."""
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: VALUES[m.group(1)], path)


def _ops(methods: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(op.method, op.path) for op in OPERATIONS if op.method in methods]


async def _send(api: httpx.AsyncClient, method: str, path: str, **kw: Any) -> httpx.Response:
    return await api.request(method, concrete(path), **kw)


def test_the_body_operations_are_the_ones_expected() -> None:
    """The router knows at least the eight JSON bodies of the API."""
    with_body = [(op.method, op.path) for op in OPERATIONS if op.body is not None]
    assert len(with_body) >= 8
    assert all(m in BODY_METHODS for m, _ in with_body)


@pytest.mark.parametrize(("method", "path"), _ops(BODY_METHODS))
async def test_a_deep_body_is_400_everywhere(
    api: httpx.AsyncClient, method: str, path: str
) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    r = await _send(api, method, path, content=deep, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["__type"] == "ValidationException"
    assert "deeper" in r.json()["message"] or r.status_code == 413


@pytest.mark.parametrize(("method", "path"), _ops(BODY_METHODS))
async def test_an_oversized_body_is_413(api: httpx.AsyncClient, method: str, path: str) -> None:
    big = b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    r = await _send(api, method, path, content=big)
    assert r.status_code == 413 and r.json()["__type"] == "PayloadTooLargeException"


RIGHT: dict[str, Any] = {
    "string": "x",
    "boolean": True,
    "integer": 1,
    "number": 1.5,
    "object": {},
    "array": [],
}

FIELD_CASES = [
    (op.method, op.path, field.name, field.types)
    for op in OPERATIONS
    if op.body is not None
    for field in op.body.fields
]


@pytest.mark.parametrize(("method", "path", "field", "types"), FIELD_CASES)
async def test_a_wrong_typed_field_is_400_naming_it(
    api: httpx.AsyncClient, method: str, path: str, field: str, types: tuple[str, ...]
) -> None:
    # required fields get a value of their type, the others are left out
    (op,) = [op for op in OPERATIONS if (op.method, op.path) == (method, path)]
    assert op.body is not None
    doc = {f.name: RIGHT[f.types[0]] for f in op.body.fields if f.required}
    doc[field] = wrong_for(types)
    r = await _send(api, method, path, json=doc)
    assert r.status_code == 400, r.text
    assert r.json()["__type"] == "ValidationException"
    assert r.json()["message"].startswith(f"{field}: must be ")


async def test_a_non_string_aggregation_type_is_400(api: httpx.AsyncClient) -> None:
    for value in ([1], {"a": 1}, 5, True):
        r = await api.post("/api/v1/findings/aggregations/list", json={"aggregationType": value})
        assert r.status_code == 400 and "aggregationType" in r.json()["message"]


GET_WITH_CRITERIA = [p for m, p in _ops(("GET",)) if "findings" in p or "export" in p]


@pytest.mark.parametrize("path", GET_WITH_CRITERIA)
async def test_deep_filter_criteria_in_a_query_is_400(api: httpx.AsyncClient, path: str) -> None:
    deep = '{"a":' * 2000 + "1" + "}" * 2000
    r = await _send(api, "GET", path, params={"filterCriteria": deep})
    assert r.status_code == 400 and r.json()["__type"] == "ValidationException"


def _declared(services: Services, path: str) -> set[str]:
    """Methods the router's own routes accept for `path`, asked route by route (Starlette), of
    the routes that own it: a `{findingId:path}` route does not own `/findings/aggregations/list`,
    which a route with fewer parameters names."""
    found: list[tuple[int, str]] = []
    for route in routes(services)[:-1]:
        assert isinstance(route, Route)
        for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"):
            scope = {"type": "http", "path": path, "method": method}
            if route.matches(scope)[0] is Match.FULL:
                found.append((len(route.param_convertors), method))
    fewest = min((n for n, _ in found), default=0)
    return {method for n, method in found if n == fewest}


PATHS = sorted({op.path for op in OPERATIONS})


@pytest.mark.parametrize("path", PATHS)
async def test_undeclared_methods_are_405_with_allow(
    api: httpx.AsyncClient, services: Services, path: str
) -> None:
    declared = _declared(services, concrete(path))
    allow = {*declared, "OPTIONS"}
    options = await _send(api, "OPTIONS", path)
    assert options.status_code == 204
    assert set(options.headers["allow"].split(", ")) == allow
    for method in sorted({"GET", "POST", "PUT", "DELETE", "PATCH", "TRACE"} - declared):
        r = await _send(api, method, path)
        assert r.status_code == 405, (method, path, r.text)
        assert set(r.headers["allow"].split(", ")) == allow
        assert r.json()["__type"] == "MethodNotAllowedException"


@pytest.mark.parametrize("path", ["/api/v1/nothing", "/api/v1/repositories-x", "/api/v1/"])
async def test_unknown_paths_are_404_json(api: httpx.AsyncClient, path: str) -> None:
    for method in ("GET", "POST", "DELETE"):
        r = await api.request(method, path)
        assert r.status_code == 404
        assert r.json()["__type"] == "ResourceNotFoundException"


async def test_v2_keeps_the_oci_shape(api: httpx.AsyncClient) -> None:
    for method in ("PATCH", "TRACE", "PROPFIND"):
        r = await api.request(method, "/v2/team/x/manifests/v1")
        assert r.status_code == 405
        assert [e["code"] for e in r.json()["errors"]] == ["UNSUPPORTED"]
        assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
    options = await api.options("/v2/team/x/blobs/uploads/")
    assert options.status_code == 204 and options.headers["allow"] == "OPTIONS, POST"


async def test_openapi_is_not_caught_by_the_fallback(services: Services) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services)), base_url="http://x"
    ) as c:
        r = await c.post("/api/v1/openapi.json", auth=("tester", "s3cret-pass"))
        assert r.status_code == 405 and "GET" in r.headers["allow"]
