"""Sign-in and sign-out: the registry's users and password check, under its failure limits.

The form posts `username` and `password`; the check is the registry's (`api/auth.py`
Authenticator) with the same per-address and per-user failure limits and the same bound on
concurrent verifications as HTTP Basic, so guessing through the console is throttled and
locked out alike. A success opens a server-side session (cookie HttpOnly, SameSite=Lax,
Secure under TLS, Max-Age the session's lifetime). The sign-in form has no session yet, so
its CSRF token is a double submit: a random cookie that the form must repeat.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...auth import BasicCredentials
from ...throttle import GateBusy
from ..context import Console
from ..forms import read_form
from ..guard import CSRF_FIELD, cookie_value
from ..page import Page
from ..sessions import COOKIE, LOGIN_COOKIE

MAX_NAME = 256
MAX_PASSWORD = 1024


def safe_next(target: str) -> str:
    """Where to go after sign-in: a console path only (never another site)."""
    if target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console/"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def routes(console: Console) -> list[BaseRoute]:
    """GET/POST /console/login and POST /console/logout."""
    renderer = console.renderer

    def form(request: Request, status: int = 200, error: str = "", username: str = "") -> Response:
        token = secrets.token_urlsafe(32)
        response = renderer.page(
            request,
            "login.html",
            {
                "login_token": token,
                "error": error,
                "username": username,
                "next": safe_next(request.query_params.get("next", "/console/")),
                "auth_off": console.door.authenticator is None,
            },
            status,
        )
        response.set_cookie(
            LOGIN_COOKIE, token, max_age=3600, path="/console/login",
            httponly=True, samesite="strict", secure=_secure(request),
        )  # fmt: skip
        return response

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return form(request)
        data = await read_form(request)
        username, password = data.one("username"), data.fields.get("password", [""])[0]
        expected = cookie_value(request.scope, LOGIN_COOKIE) or ""
        if not expected or not hmac.compare_digest(data.one(CSRF_FIELD), expected):
            return renderer.error(
                request, 403, "Form expired or forged",
                "The sign-in form was not the one this server sent. Reload it and sign in again.",
            )  # fmt: skip
        if not username or len(username) > MAX_NAME or len(password) > MAX_PASSWORD:
            return form(request, 400, "Enter a user name and a password.", username[:MAX_NAME])
        refusal = await _check(console, request, username, password)
        if refusal is not None:
            status, message = refusal
            return form(request, status, message, username)
        session_id, _ = console.sessions.open(username)
        target = safe_next(data.one("next", "/console/"))
        response = RedirectResponse(target, 303)
        response.set_cookie(
            COOKIE, session_id, max_age=int(console.sessions.lifetime.total_seconds()),
            path="/console", httponly=True, samesite="lax", secure=_secure(request),
        )  # fmt: skip
        response.delete_cookie(LOGIN_COOKIE, path="/console/login")
        return response

    async def logout(request: Request) -> Response:
        console.sessions.close(request.scope["state"].get("console_session_id"))
        response = RedirectResponse("/console/login", 303)
        response.delete_cookie(COOKIE, path="/console")
        return response

    return [
        Route("/console/login", login, methods=["GET", "POST"]),
        Route("/console/logout", logout, methods=["POST"]),
    ]


async def _check(
    console: Console, request: Request, username: str, password: str
) -> tuple[int, str] | None:
    """None when the credentials are good, else the status and message to show."""
    door = console.door
    authenticator = door.authenticator
    if authenticator is None:  # auth is off: the registry takes anyone, and so does the console
        return None
    address = request.client.host if request.client else "-"
    wait = max(door.by_address.retry_after(address), door.by_user.retry_after(username))
    if wait > 0:
        return 429, f"Too many failed sign-ins. Try again in {int(wait) + 1} seconds."
    creds = BasicCredentials(username, password)
    found = await authenticator.lookup_from_loop(creds)
    try:
        ok = found.cached or await door.gate.run(lambda: authenticator.verify(creds, found.stored))
    except GateBusy:
        return 503, "The server is busy checking other sign-ins. Try again in a moment."
    if not ok:
        door.by_address.failed(address)
        door.by_user.failed(username)
        return 401, "Wrong user name or password."
    door.by_address.succeeded(address)
    return None


PAGE = Page("login", routes)
