"""The dispatcher that serves the console next to the APIs on one port.

`/console` paths go to the console and everything else to the API stack, so the console's
session sign-in replaces HTTP Basic on its own paths only. The console (its pages, Jinja) is
made by the first request to it (`api/deferred.py`), or ahead of it once the server listens.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from dockwatch.api.deferred import Deferred

PREFIX = "/console"


class ConsoleDispatch:
    """`/console` and below to the console, the rest to `api`."""

    def __init__(self, api: ASGIApp, console: Deferred[ASGIApp]) -> None:
        self.api = api
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one request by its path."""
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/")):
            console = await self.console.ready()
            await console(scope, receive, send)
        else:
            await self.api(scope, receive, send)
