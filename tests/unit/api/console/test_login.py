"""Sign-in: the registry's users and password check, its failure limits, the cookie's flags,
and no redirect off the console."""

from __future__ import annotations

import re

import httpx
import pytest

from dockwatch.api.app import create_app
from dockwatch.app import Services
from tests.unit.api.conftest import PASSWORD, USER

from .conftest import CSRF

pytestmark = pytest.mark.anyio


def client(
    services: Services, base: str = "http://dockwatch", address: str = "10.0.0.9"
) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(services), client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=base)


async def _post(c: httpx.AsyncClient, **fields: str) -> httpx.Response:
    form = await c.get("/console/login")
    token = CSRF.search(form.text)
    assert token is not None
    return await c.post("/console/login", data={"csrf_token": token.group(1), **fields})


def _cookie(answer: httpx.Response, name: str) -> str:
    found = [h for h in answer.headers.get_list("set-cookie") if h.startswith(name + "=")]
    assert len(found) == 1, answer.headers.get_list("set-cookie")
    return found[0]


async def test_the_session_cookie_is_httponly_samesite_and_expires(populated: Services) -> None:
    async with client(populated) as c:
        answer = await _post(c, username=USER, password=PASSWORD)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/"
    cookie = _cookie(answer, "dockwatch_console").lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/console" in cookie
    age = re.search(r"max-age=(\d+)", cookie)
    assert age is not None and int(age.group(1)) == 8 * 3600
    assert "secure" not in cookie  # plain HTTP: a Secure cookie would never come back


async def test_the_cookie_is_secure_under_tls(populated: Services) -> None:
    async with client(populated, base="https://dockwatch") as c:
        answer = await _post(c, username=USER, password=PASSWORD)
    assert "secure" in _cookie(answer, "dockwatch_console").lower()


async def test_a_wrong_password_opens_no_session(populated: Services) -> None:
    async with client(populated, address="10.0.0.10") as c:
        answer = await _post(c, username=USER, password="wrong")
        assert answer.status_code == 401
        assert "Wrong user name or password" in answer.text
        assert not any(
            h.startswith("dockwatch_console=") for h in answer.headers.get_list("set-cookie")
        )
        assert (await c.get("/console/")).status_code == 303


async def test_failed_sign_ins_are_throttled_as_basic_auth_is(populated: Services) -> None:
    free = populated.settings.auth_free_failures_per_address
    app = create_app(populated)  # one door: the console and HTTP Basic share its limits
    transport = httpx.ASGITransport(app=app, client=("10.0.0.11", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://dockwatch") as c:
        statuses = [
            (await _post(c, username=USER, password=f"guess-{i}")).status_code
            for i in range(free + 2)
        ]
        # the free failures are answered 401; past them the address must wait (429)
        assert statuses[:free] == [401] * free and statuses[-1] == 429
        # the right password is refused too while the address waits
        assert (await _post(c, username=USER, password=PASSWORD)).status_code == 429
        # and HTTP Basic from that address is held back alike
        basic = await c.get("/api/v1/repositories", auth=(USER, PASSWORD))
        assert basic.status_code == 429


async def test_the_sign_in_form_needs_its_own_token(populated: Services) -> None:
    async with client(populated) as c:
        answer = await c.post("/console/login", data={"username": USER, "password": PASSWORD})
    assert answer.status_code == 403


async def test_after_sign_in_the_console_goes_nowhere_else(populated: Services) -> None:
    for target, expected in (
        ("/console/coverage", "/console/coverage"),
        ("https://evil.example/", "/console/"),
        ("//evil.example/console/", "/console/"),
        ("/api/v1/repositories", "/console/"),
    ):
        async with client(populated, address="10.0.1.1") as c:
            answer = await _post(c, username=USER, password=PASSWORD, next=target)
        assert answer.headers["location"] == expected


async def test_a_page_asked_for_before_sign_in_is_where_sign_in_leads(populated: Services) -> None:
    async with client(populated, address="10.0.1.2") as c:
        first = await c.get("/console/coverage?scanStatusCode=ACTIVE")
        assert first.status_code == 303
        login = await c.get(first.headers["location"])
        assert 'name="next" value="/console/coverage?scanStatusCode=ACTIVE"' in login.text
