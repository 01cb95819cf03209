"""The console's door: a session for every page and action, a CSRF token on every POST.

Checked here, around every route, so that no page can forget it: a page (GET) without a session
redirects to the sign-in page, an action (POST) without one is refused 401; a POST whose form
does not carry the session's CSRF token is refused 403. Only the sign-in page and the static
files are public (the sign-in form has its own CSRF check, `pages/login.py`). A form body is read
here (bounded) and handed on unchanged.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .render import Renderer
from .sessions import COOKIE, Session, SessionStore

PUBLIC_PREFIXES = ("/console/login", "/console/static/")
MAX_FORM_BYTES = 256 * 1024
"""A console form is a few fields; a larger body is refused before it is parsed."""
FORM_TYPE = "application/x-www-form-urlencoded"
CSRF_FIELD = "csrf_token"


def cookie_value(scope: Scope, name: str) -> str | None:
    """One cookie of the request."""
    for key, value in scope["headers"]:
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # noqa: BLE001 - a malformed cookie header is no cookie
                continue
            if name in jar:
                return jar[name].value
    return None


def is_public(path: str) -> bool:
    """The sign-in page and the static files need no session."""
    return path == "/console/login" or path.startswith(PUBLIC_PREFIXES)


class ConsoleGuard:
    """ASGI middleware putting `console_session` and `console_session_id` in the scope state."""

    def __init__(self, app: ASGIApp, sessions: SessionStore, renderer: Callable[[], Renderer]):
        self.app = app
        self.sessions = sessions
        self.renderer = renderer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let a signed-in request through; answer the others with the sign-in page or an
        error page."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session_id = cookie_value(scope, COOKIE)
        session = self.sessions.get(session_id)
        state = scope.setdefault("state", {})
        state["console_session"] = session
        state["console_session_id"] = session_id if session else None
        path: str = scope["path"]
        method: str = scope["method"]
        if is_public(path):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if session is None:
            if method in ("GET", "HEAD"):
                target = path + (
                    f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
                )
                await RedirectResponse(f"/console/login?next={quote(target)}", 303)(
                    scope, receive, send
                )
                return
            refusal = self.renderer().error(
                request, 401, "Sign-in required", "Sign in to the console before this action."
            )
            await refusal(scope, receive, send)
            return
        if method in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        body, refusal_response = await self._form_body(request, session, receive)
        if refusal_response is not None:
            await refusal_response(scope, receive, send)
            return
        await self.app(scope, _replay(body), send)

    async def _form_body(
        self, request: Request, session: Session, receive: Receive
    ) -> tuple[bytes, Response | None]:
        renderer = self.renderer()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != FORM_TYPE:
            return b"", renderer.error(
                request, 415, "Not a form", f"Console actions take {FORM_TYPE} forms."
            )
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_FORM_BYTES:
                return b"", renderer.error(
                    request, 413, "Form too large", f"A form is at most {MAX_FORM_BYTES} bytes."
                )
            if not message.get("more_body", False):
                break
        try:
            fields = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=2000)
        except (UnicodeDecodeError, ValueError):
            return b"", renderer.error(request, 400, "Bad form", "The form could not be read.")
        sent = fields.get(CSRF_FIELD, [""])
        if len(sent) != 1 or not hmac.compare_digest(sent[0], session.csrf_token):
            return b"", renderer.error(
                request,
                403,
                "Form expired or forged",
                "This form does not carry your session's security token. Reload the page and "
                "submit it again.",
            )
        return bytes(body), None


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive
