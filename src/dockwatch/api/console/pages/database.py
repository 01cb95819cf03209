"""Vulnerability database: its version, its sources with their advisories, freshness and last
sync errors (the same status as `/api/v1/db/status`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...v1.routes import db_status
from ..context import Console
from ..page import NavItem, Page


def routes(console: Console) -> list[BaseRoute]:
    """GET /console/database."""

    async def show(request: Request) -> Response:
        status = await db_status(console.services, request)
        return console.renderer.page(
            request, "database.html", {"db": status, "sources": status.get("sources") or []}
        )

    return [Route("/console/database", show, methods=["GET"])]


PAGE = Page("database", routes, NavItem("Vulnerability database", "/console/database"))
