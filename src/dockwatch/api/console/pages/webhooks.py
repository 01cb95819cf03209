"""Webhooks: the subscriptions, each one's delivery log, and a button that queues the test
event (the same calls as `/api/v1/webhooks`, `.../deliveries` and `.../test`)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...v1.webhooks import get_webhook, list_deliveries, list_webhooks, test_webhook
from ..context import Console
from ..page import NavItem, Page


def routes(console: Console) -> list[BaseRoute]:
    """GET /console/webhooks, GET /console/webhooks/{id}, POST /console/webhooks/{id}/test."""
    services = console.services

    async def listing(request: Request) -> Response:
        hooks = (await list_webhooks(services, request))["webhooks"]
        rows = [{**h, "href": f"/console/webhooks/{quote(h['webhookId'], safe='')}"} for h in hooks]
        return console.renderer.page(request, "webhooks.html", {"rows": rows})

    async def detail(request: Request, sent: dict[str, str] | None = None) -> Response:
        hook = await get_webhook(services, request)
        log = await list_deliveries(services, request)
        token = log.get("nextToken")
        base = f"/console/webhooks/{quote(hook['webhookId'], safe='')}"
        return console.renderer.page(
            request,
            "webhook.html",
            {
                "hook": hook,
                "deliveries": log["deliveries"],
                "sent": sent,
                "test_action": f"{base}/test",
                "next_href": f"{base}?nextToken={quote(token)}" if token else None,
            },
            202 if sent else 200,
        )

    async def show(request: Request) -> Response:
        return await detail(request)

    async def test(request: Request) -> Response:
        sent = await test_webhook(services, request)
        return await detail(request, sent)

    return [
        Route("/console/webhooks", listing, methods=["GET"]),
        Route("/console/webhooks/{id}", show, methods=["GET"]),
        Route("/console/webhooks/{id}/test", test, methods=["POST"]),
    ]


PAGE = Page("webhooks", routes, NavItem("Webhooks", "/console/webhooks"))
