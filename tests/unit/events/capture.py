"""A webhook subscription of in-process services whose deliveries land in memory: tests produce
a situation with the real services, then read the EventBridge bodies a subscriber received
(signed, through the deliverer, as a receiving endpoint sees them)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

from dockwatch.app import Services
from dockwatch.events import subscriptions
from dockwatch.events.egress import EgressPolicy
from dockwatch.events.eventbridge import event_id
from dockwatch.events.webhooks import WebhookDeliverer

SECRET = "capture-secret-0123456789abcdef"


class Capture:
    """Subscribes at creation: only events written afterwards are delivered."""

    def __init__(self, services: Services, event_types: list[str] | None = None) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.services = services
        box = services.webhooks.box
        body: dict[str, Any] = {"url": "https://hooks.example/in", "secret": SECRET}
        if event_types is not None:
            body["eventTypes"] = event_types
        subscriptions.create(
            services.store, services.clock, services.tenant, body, box=box, egress=EgressPolicy()
        )
        self.deliverer = WebhookDeliverer(
            services.store, services.clock, box=box, transport=httpx.MockTransport(self._handle)
        )

    def _handle(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        ts = request.headers["X-Dockwatch-Timestamp"]
        mac = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256)
        if not hmac.compare_digest(
            "sha256=" + mac.hexdigest(), request.headers["X-Dockwatch-Signature"]
        ):
            self.bad_signatures += 1
            return httpx.Response(401)
        self.bodies.append(json.loads(body))
        return httpx.Response(200)

    def take(self, detail_type: str | None = None) -> list[dict[str, Any]]:
        """Deliver what is pending; the bodies received since the last call (of one type), in
        the order their events were written (deliveries run concurrently)."""
        self.deliverer.drain()
        assert self.bad_signatures == 0
        got, self.bodies = self.bodies, []
        t = self.services.tenant
        with self.services.store.read() as uow:
            last = uow.outbox.last_id()
        order = {event_id(t.account_id, t.region, n): n for n in range(1, last + 1)}
        got.sort(key=lambda b: order[b["id"]])
        return [b for b in got if detail_type is None or b["detail-type"] == detail_type]
