"""The OpenAPI document: complete for every /api/v1 route, valid OpenAPI 3.1, served as built,
and made of the declarations the request reader checks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.routing import Route

from dockwatch.api.v1 import openapi
from dockwatch.api.v1.bodies import BODIES
from dockwatch.api.v1.routes import OPERATIONS, routes
from dockwatch.api.v1.schemas import CONTRACTS
from dockwatch.app import Services

DOC = openapi.document(OPERATIONS, CONTRACTS)


def _operation(method: str, path: str) -> dict[str, Any]:
    doc_path = "/".join(
        "{" + s[1:-1].split(":")[0] + "}" if s.startswith("{") else s for s in path.split("/")
    )
    operation: dict[str, Any] = DOC["paths"][doc_path][method.lower()]
    return operation


def test_every_route_declares_a_contract() -> None:
    assert openapi.missing_contracts(OPERATIONS, CONTRACTS) == []
    served = {(op.method, op.path) for op in OPERATIONS}
    assert sorted(set(CONTRACTS) - served) == [], "contracts of routes that do not exist"
    assert sorted(set(BODIES) - served) == [], "bodies of routes that do not exist"


def test_a_route_without_a_contract_is_caught() -> None:
    extra = openapi.path_names("/api/v1/x/{id}")
    assert extra == ["id"]

    class Undeclared:
        method, path, summary, status, body = "GET", "/api/v1/new-thing", "new", 200, None

    assert openapi.missing_contracts([*OPERATIONS, Undeclared()], CONTRACTS) == [
        "GET /api/v1/new-thing"
    ]
    doc = openapi.document([Undeclared()], CONTRACTS)
    assert doc["paths"]["/api/v1/new-thing"]["get"]["x-undeclared"] is True


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOC["openapi"] == "3.1.0"
    validate(DOC)


def test_every_api_v1_route_of_the_app_is_documented(services: Services) -> None:
    """Walk the Starlette routes the app serves (not the operation list) under /api/v1."""
    documented = {(method.upper(), path) for path, ops in DOC["paths"].items() for method in ops}
    for route in routes(services):
        if not isinstance(route, Route) or route.path in (
            "/api/v1/openapi.json",
            "/api/v1/{rest:path}",
        ):
            continue
        path = "/".join(
            "{" + s[1:-1].split(":")[0] + "}" if s.startswith("{") else s
            for s in route.path.split("/")
        )
        for method in route.methods or ():
            if method != "HEAD":
                assert (method, path) in documented, (method, route.path)


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
def test_each_operation_is_complete(op: Any) -> None:
    doc = _operation(op.method, op.path)
    params = {(p["in"], p["name"]): p for p in doc["parameters"]}
    for name in openapi.path_names(op.path):
        assert params[("path", name)]["required"] is True
        assert params[("path", name)]["schema"]
    for p in doc["parameters"]:
        assert p["schema"], p
    if (op.method, op.path) in BODIES:
        body = doc["requestBody"]["content"]["application/json"]["schema"]
        assert body == BODIES[(op.method, op.path)].json_schema()
    else:
        assert "requestBody" not in doc
    responses = doc["responses"]
    success = responses[str(op.status)]
    assert all(c["schema"] for c in success["content"].values())
    for status in ("401", "429", "503"):
        assert responses[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
    if op.method in ("POST", "PUT"):
        assert {"400", "413"} <= set(responses)
    if openapi.path_names(op.path):
        assert "404" in responses
    assert responses["429"]["headers"]["Retry-After"]["required"] is True


def test_query_parameters_of_listings_are_declared() -> None:
    """The parameters the handlers read, spot-checked against their docstrings' lists."""
    names = {p["name"] for p in _operation("GET", "/api/v1/coverage")["parameters"]}
    assert names == {
        "repositoryName", "scanStatusCode", "scanStatusReason", "lastScannedAtFrom",
        "lastScannedAtTo", "maxResults", "nextToken",
    }  # fmt: skip
    listing = {p["name"]: p for p in _operation("GET", "/api/v1/findings")["parameters"]}
    assert {"severity", "packageName", "inspectorScoreMin", "firstObservedAtFrom"} <= set(listing)
    assert listing["maxResults"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000}
    assert (
        listing["severity"]["explode"] is True and listing["severity"]["schema"]["type"] == "array"
    )


async def test_the_served_document_is_the_built_one(api: httpx.AsyncClient) -> None:
    r = await api.get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == DOC


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


pytestmark = pytest.mark.anyio


def _error_schema_holds(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and set(body) == {"__type", "message"}
        and body["__type"] in DOC["components"]["schemas"]["Error"]["properties"]["__type"]["enum"]
    )


async def test_errors_match_the_error_schema(api: httpx.AsyncClient) -> None:
    cases = [
        ("GET", "/api/v1/repositories/no/such/images", "/api/v1/repositories/{name}/images", 404),
        ("POST", "/api/v1/findings/list", "/api/v1/findings/list", 400),
    ]
    for method, url, path, status in cases:
        r = await api.request(method, url, content=b"[" if method == "POST" else None)
        assert r.status_code == status and _error_schema_holds(r.json())
        assert str(status) in DOC["paths"][path][method.lower()]["responses"]
    r = await api.delete("/api/v1/repositories")
    assert r.status_code == 405 and _error_schema_holds(r.json())


async def test_a_manual_scan_under_enhanced_scanning_is_a_documented_409(
    api: httpx.AsyncClient,
) -> None:
    """Found by the contract run: the request is well formed, the registry's state refuses it."""
    r = await api.put("/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED"})
    assert r.status_code == 200, r.text
    r = await api.post("/api/v1/repositories/team/x/images/v1/scan")
    assert r.status_code == 409 and _error_schema_holds(r.json())
    assert r.json()["__type"] == "ConflictException"
    path = "/api/v1/repositories/{name}/images/{reference}/scan"
    assert "409" in DOC["paths"][path]["post"]["responses"]


async def test_declared_query_parameters_are_checked_before_the_handler(
    api: httpx.AsyncClient,
) -> None:
    """Found by the contract run: values outside a parameter's schema were answered 200."""
    for url, name in [
        ("/api/v1/coverage?scanStatusCode=AAA", "scanStatusCode"),
        ("/api/v1/findings?updatedAtTo=yesterday", "updatedAtTo"),
        ("/api/v1/findings?maxResults=0", "maxResults"),
        ("/api/v1/findings?" + "&".join(["severity=HIGH"] * 11), "severity"),
    ]:
        r = await api.get(url)
        assert r.status_code == 400 and r.json()["message"].startswith(f"{name}: "), url
    assert (await api.get("/api/v1/findings?updatedAtTo=2026-01-02T03:04:05Z")).status_code == 200


async def test_a_path_owned_by_a_narrower_route_is_405_for_the_wider_ones_method(
    api: httpx.AsyncClient,
) -> None:
    r = await api.get("/api/v1/findings/aggregations/list")
    assert r.status_code == 405 and r.headers["allow"] == "OPTIONS, POST"
    r = await api.get("/api/v1/repositories/x%0Ay/images/v%0A1/findings/export")
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"


def test_every_declared_schema_is_valid_json_schema() -> None:
    """Servers build their validators without checking schemas at start (it cost seconds of
    every process start); this checks each one against the 2020-12 meta-schema instead."""
    from jsonschema import Draft202012Validator

    from dockwatch.api.v1.bodies import BODIES
    from dockwatch.api.v1.schemas import CONTRACTS

    checked = 0
    for shape in BODIES.values():
        for schema in [f.schema for f in shape.fields] + [shape.constraints]:
            if schema is not None:
                Draft202012Validator.check_schema(dict(schema))
                checked += 1
    for contract in CONTRACTS.values():
        for param in (*contract.params, *contract.path_params):
            Draft202012Validator.check_schema(dict(param.schema))
            checked += 1
    assert checked > 50
