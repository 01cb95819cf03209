"""The console's ASGI app.

`create_console` assembles the page modules (`pages.PAGES`) into one Starlette app behind the
guard (`guard.py`); `api/app.py` serves it next to the APIs on one port (`deferred.PrefixedPart`).
"""

from __future__ import annotations

import threading
from importlib.resources import files

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from dockwatch.app import Services
from dockwatch.errors import Conflict, InvalidInput, NotFound
from dockwatch.model.identity import Tenant

from ..auth import user_tenant
from ..auth_middleware import AuthMiddleware
from .context import Console
from .guard import ConsoleGuard
from .pages import PAGES
from .render import Renderer
from .sessions import Session, SessionStore

_TITLES = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 409: "Conflict"}


def create_console(services: Services, door: AuthMiddleware) -> ASGIApp:
    """The console app; `door` gives the registry's authenticator and failure limits.

    A signed-in request is served by the pages built over the services of the user's own
    tenant (`<account id>/<name>` signs in to that account, as HTTP Basic does), so a user of
    one account never sees another account's data."""
    renderer = Renderer([p.nav for p in PAGES if p.nav is not None])
    sessions = SessionStore(services.clock.now)
    pages = TenantPages(services, door, sessions, renderer)
    return ConsoleGuard(pages, sessions, lambda: renderer)


class TenantPages:
    """The page routes of each tenant, built on first use over `services.for_tenant`; a
    request goes to those of its session's user (the default tenant's without a session)."""

    def __init__(
        self, services: Services, door: AuthMiddleware, sessions: SessionStore, renderer: Renderer
    ) -> None:
        self.services = services
        self.door = door
        self.sessions = sessions
        self.renderer = renderer
        self._apps: dict[Tenant, Starlette] = {}
        self._lock = threading.Lock()

    def app_for(self, tenant: Tenant) -> Starlette:
        """The pages acting in `tenant`."""
        with self._lock:
            found = self._apps.get(tenant)
            if found is None:
                view = self.services.for_tenant(tenant)
                console = Console(view, self.door, self.sessions, self.renderer)
                found = self._apps[tenant] = _pages_app(console)
            return found

    @property
    def routes(self) -> list[BaseRoute]:
        """Every console route (the same for every tenant)."""
        return self.app_for(self.services.tenant).routes

    def tenant_of(self, session: Session | None) -> Tenant:
        """The user's tenant: `<account id>/<name>` acts in that account, as over HTTP Basic."""
        if session is None or self.door.authenticator is None:
            return self.services.tenant
        tenant, _ = user_tenant(session.username, self.services.tenant)
        return tenant

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request with its user's tenant's pages."""
        session: Session | None = scope.get("state", {}).get("console_session")
        await self.app_for(self.tenant_of(session))(scope, receive, send)


def _pages_app(console: Console) -> Starlette:
    """Every page's routes over one tenant's services."""
    renderer = console.renderer
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

    return Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: http_error,
            InvalidInput: domain_error,
            NotFound: domain_error,
            Conflict: domain_error,
        },
    )
