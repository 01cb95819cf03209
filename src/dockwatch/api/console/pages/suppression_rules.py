"""Suppression rules: the list (ListFilters through `v1.suppression_rules.list_rules`, keyset
pages) and deleting a rule after a confirmation (the suppression-rule service's DeleteFilter,
which re-evaluates the findings it suppressed)."""

from __future__ import annotations

from urllib.parse import quote

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from dockwatch.errors import InvalidInput
from dockwatch.findings.suppression import SuppressionRules

from ...v1.suppression_rules import list_rules
from ..context import Console
from ..forms import read_form
from ..page import NavItem, Page


def routes(console: Console) -> list[BaseRoute]:
    """GET /console/suppression-rules; GET/POST /console/suppression-rules/{id}/delete."""
    services = console.services

    def rules() -> SuppressionRules:
        return SuppressionRules(services.store, services.clock, services.tenant)

    async def listing(request: Request) -> Response:
        answer = await list_rules(services, request)
        rows = [
            {**r, "delete_href": f"/console/suppression-rules/{quote(r['id'], safe='')}/delete"}
            for r in answer["filters"]
        ]
        token = answer.get("nextToken")
        return console.renderer.page(
            request,
            "suppression_rules.html",
            {
                "rows": rows,
                "next_href": f"/console/suppression-rules?nextToken={quote(token)}"
                if token
                else None,
            },
        )

    async def confirm(request: Request) -> Response:
        rule = await to_thread.run_sync(rules().get, request.path_params["id"])
        wire = rule.to_wire(services.tenant, services.clock.now())
        return console.renderer.page(request, "suppression_rule_delete.html", {"rule": wire})

    async def delete(request: Request) -> Response:
        form = await read_form(request)
        if form.one("confirm") != "yes":
            raise InvalidInput("confirm deleting the rule first")
        await to_thread.run_sync(rules().delete, request.path_params["id"])
        return RedirectResponse("/console/suppression-rules", 303)

    return [
        Route("/console/suppression-rules", listing, methods=["GET"]),
        Route("/console/suppression-rules/{id}/delete", confirm, methods=["GET"]),
        Route("/console/suppression-rules/{id}/delete", delete, methods=["POST"]),
    ]


PAGE = Page("suppression_rules", routes, NavItem("Suppression rules", "/console/suppression-rules"))
