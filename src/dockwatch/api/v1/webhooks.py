"""Webhook endpoints: subscriptions, their delivery log and a test ping.

Bodies are EventBridge events signed with the subscription secret (see
`dockwatch.events.signing` for the headers and how to verify them).
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from starlette.requests import Request

from dockwatch.app import Services
from dockwatch.errors import InvalidInput
from dockwatch.events import subscriptions

from .body import json_body


async def _json(request: Request) -> Any:
    try:
        return json_body(request)
    except ValueError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}") from exc


async def create_webhook(services: Services, request: Request) -> dict[str, Any]:
    """Subscribe a URL; the secret is in this answer only."""
    body = await _json(request)

    def run() -> dict[str, Any]:
        return subscriptions.create(
            services.webhooks.store,
            services.clock,
            services.tenant,
            body,
            box=services.webhooks.box,
            egress=services.webhooks.egress,
        )

    return await to_thread.run_sync(run)


async def list_webhooks(services: Services, request: Request) -> dict[str, Any]:
    """Every subscription (without secrets)."""
    return {
        "webhooks": await to_thread.run_sync(
            subscriptions.list_all, services.webhooks.store, services.tenant
        )
    }


async def get_webhook(services: Services, request: Request) -> dict[str, Any]:
    """One subscription."""
    return await to_thread.run_sync(
        subscriptions.get, services.webhooks.store, services.tenant, request.path_params["id"]
    )


async def delete_webhook(services: Services, request: Request) -> dict[str, Any]:
    """Unsubscribe; undelivered attempts are dropped with the log."""
    webhook_id = request.path_params["id"]
    await to_thread.run_sync(
        subscriptions.remove, services.webhooks.store, services.tenant, webhook_id
    )
    return {"webhookId": webhook_id}


async def list_deliveries(services: Services, request: Request) -> dict[str, Any]:
    """The delivery log: `maxResults` (1-100), `nextToken`, `status` filter."""
    q = request.query_params
    webhook_id = request.path_params["id"]

    def run() -> dict[str, Any]:
        return subscriptions.deliveries(
            services.webhooks.store,
            services.tenant,
            webhook_id,
            next_token=q.get("nextToken"),
            max_results=q.get("maxResults"),
            status=q.get("status"),
        )

    return await to_thread.run_sync(run)


async def test_webhook(services: Services, request: Request) -> dict[str, Any]:
    """Queue a ping event for this subscription only."""
    return await to_thread.run_sync(
        subscriptions.send_test,
        services.webhooks.store,
        services.clock,
        services.tenant,
        request.path_params["id"],
    )
