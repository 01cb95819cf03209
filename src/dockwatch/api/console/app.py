"""The console's ASGI app and the dispatcher that serves it next to the APIs on one port.

`create_console` assembles the page modules (`pages.PAGES`) into one Starlette app behind the
guard (`guard.py`); `ConsoleDispatch` sends `/console` paths to it and everything else to the
API stack, so the console's session sign-in replaces HTTP Basic on its own paths only.
"""

from __future__ import annotations

from importlib.resources import files

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from dockwatch.app import Services
from dockwatch.errors import Conflict, InvalidInput, NotFound

from ..auth_middleware import AuthMiddleware
from .context import Console
from .guard import ConsoleGuard
from .pages import PAGES
from .render import Renderer
from .sessions import SessionStore

PREFIX = "/console"

_TITLES = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 409: "Conflict"}


def create_console(services: Services, door: AuthMiddleware) -> ASGIApp:
    """The console app; `door` gives the registry's authenticator and failure limits."""
    renderer = Renderer([p.nav for p in PAGES if p.nav is not None])
    console = Console(services, door, SessionStore(services.clock.now), renderer)
    static = StaticFiles(directory=str(files("dockwatch.api.console") / "static"))
    routes = [
        Route("/console", lambda request: RedirectResponse("/console/", 308)),
        Mount("/console/static", app=static, name="static"),
    ]
    for page in PAGES:
        routes.extend(page.routes(console))

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        title = _TITLES.get(exc.status_code, "Error")
        message = "No console page at this address." if exc.status_code == 404 else exc.detail
        return renderer.error(request, exc.status_code, title, message)

    def domain_error(request: Request, exc: Exception) -> Response:
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
        return renderer.error(request, status, _TITLES[status], str(exc))

    app = Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: http_error,
            InvalidInput: domain_error,
            NotFound: domain_error,
            Conflict: domain_error,
        },
    )
    return ConsoleGuard(app, console.sessions, lambda: renderer)


class ConsoleDispatch:
    """`/console` and below to the console, the rest to `api`."""

    def __init__(self, api: ASGIApp, console: ASGIApp) -> None:
        self.api = api
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one request by its path."""
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.console(scope, receive, send)
        else:
            await self.api(scope, receive, send)
