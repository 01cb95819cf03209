"""The one way a console page answers: a Jinja2 template inside the shared layout.

Autoescaping is on for every template, so a repository or package name with HTML in it is shown
as text. `render` adds what the layout needs (navigation, the signed-in user, the CSRF token of
the forms) to the page's own context.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from dockwatch.model.times import iso

from .nav import NavItem
from .sessions import Session

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Headers of every console page: no inline script or style, no framing, no caching."""


def _when(value: datetime | str | None) -> str:
    """A time as the pages show it: ISO 8601 in UTC to the second, or a dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    text = iso(value) or "—"
    return text.replace("T", " ").split(".")[0].removesuffix("+00:00").removesuffix("Z") + " UTC"


def environment() -> Environment:
    """The templates shipped in the package, autoescaped, strict about undefined names."""
    env = Environment(
        loader=PackageLoader("dockwatch.api.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    return env


class Renderer:
    """Renders templates with the layout's context."""

    def __init__(self, nav: Sequence[NavItem]) -> None:
        self.env = environment()
        self.nav = tuple(nav)

    def page(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any] | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """`template` rendered in the layout, with the page's `context`."""
        session: Session | None = request.scope.get("state", {}).get("console_session")
        full = {
            "nav": self.nav,
            "path": request.url.path,
            "user": session.username if session else None,
            "csrf_token": session.csrf_token if session else "",
            **(context or {}),
        }
        body = self.env.get_template(template).render(full)
        return HTMLResponse(body, status, headers={**SECURITY_HEADERS, **(headers or {})})

    def error(self, request: Request, status: int, title: str, message: str) -> HTMLResponse:
        """An error page in the layout (400, 401, 403, 404, ...)."""
        return self.page(
            request, "error.html", {"status": status, "title": title, "message": message}, status
        )
