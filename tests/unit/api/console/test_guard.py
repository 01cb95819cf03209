"""No page or action without a session; no action without the session's CSRF token."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.routing import Route

from dockwatch.api.app import create_app
from dockwatch.api.auth_middleware import AuthMiddleware
from dockwatch.api.console.app import create_console
from dockwatch.api.console.guard import ConsoleGuard, is_public
from dockwatch.app import Services
from tests.unit.api.conftest import client_for

from .conftest import Browser, sign_in

pytestmark = pytest.mark.anyio


def console_routes(services: Services) -> list[tuple[str, str]]:
    """(method, path) of every console route but the public ones, path parameters filled in."""
    app = create_console(services, create_app_door(services))
    assert isinstance(app, ConsoleGuard)
    out: list[tuple[str, str]] = []
    for route in app.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and not is_public(route.path) and route.path != "/console":
            path = re.sub(r"\{[^}]+\}", "x", route.path)
            out.extend((m, path) for m in sorted(route.methods or ()) if m != "HEAD")
    return out


def create_app_door(services: Services) -> AuthMiddleware:
    from dockwatch.api.app import auth_middleware

    return auth_middleware(lambda *a: None, services)  # type: ignore[arg-type]


async def test_every_page_and_action_needs_a_session(
    anonymous: httpx.AsyncClient, populated: Services
) -> None:
    routes = console_routes(populated)
    assert ("GET", "/console/") in routes and ("POST", "/console/scanning") in routes
    for method, path in routes:
        answer = await anonymous.request(method, path, data={"csrf_token": "x"})
        if method == "GET":
            assert answer.status_code == 303, (method, path)
            assert answer.headers["location"].startswith("/console/login?next=")
        else:
            assert answer.status_code == 401, (method, path)
            assert "Sign in" in answer.text


async def test_basic_credentials_do_not_open_the_console(populated: Services) -> None:
    async with client_for(create_app(populated)) as client:  # Basic auth, no session
        answer = await client.get("/console/settings")
    assert answer.status_code == 303


async def test_a_session_does_not_open_the_apis(browser: Browser) -> None:
    assert (await browser.client.get("/api/v1/repositories")).status_code == 401
    assert (await browser.client.get("/v2/")).status_code == 401


async def test_a_post_without_the_session_token_is_refused(
    browser: Browser, populated: Services
) -> None:
    before, _ = populated.scanner.settings()
    body = {"scan_type": "BASIC", "mode": "on_push_all", "action": "save"}
    for token in (None, "", "forged", browser.csrf + "x"):
        data = dict(body) if token is None else {**body, "csrf_token": token}
        answer = await browser.client.post("/console/scanning", data=data)
        assert answer.status_code == 403
        assert "security token" in answer.text
    assert populated.scanner.settings()[0] == before


async def test_a_token_of_another_session_is_refused(browser: Browser, populated: Services) -> None:
    async with client_for(create_app(populated), auth=None) as other:
        their_token = await sign_in(other)
    answer = await browser.client.post("/console/logout", data={"csrf_token": their_token})
    assert answer.status_code == 403


async def test_an_action_takes_forms_only(browser: Browser) -> None:
    answer = await browser.client.post("/console/scanning", json={"csrf_token": browser.csrf})
    assert answer.status_code == 415


async def test_sign_out_ends_the_session(populated: Services) -> None:
    async with client_for(create_app(populated), auth=None) as client:
        token = await sign_in(client)
        cookie = client.cookies.get("dockwatch_console")
        out = await client.post("/console/logout", data={"csrf_token": token})
        assert out.status_code == 303 and out.headers["location"] == "/console/login"
        assert (await client.get("/console/")).status_code == 303
        # the old cookie, replayed, opens nothing
        client.cookies.set("dockwatch_console", cookie or "", path="/console")
        assert (await client.get("/console/")).status_code == 303
        refused = await client.post(
            "/console/scanning", data={"csrf_token": token, "action": "save"}
        )
        assert refused.status_code == 401
