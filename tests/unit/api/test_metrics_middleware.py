"""`MetricsMiddleware` counts a request before the client can read its answer.

The app below keeps running after it has sent its response, as one with background tasks
does; whoever has read the whole answer (here: the last `send`) must already find the request
counted, or a scrape right after a response misses it. An app that fails before answering is
counted as a 500 once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dockwatch.api.metrics import Metrics, MetricsMiddleware

SCOPE = {"type": "http", "method": "PUT", "path": "/v2/team/app/manifests/v1"}


def _counted(metrics: Metrics, status: str) -> float:
    value = metrics.series.get().registry.get_sample_value(
        "dockwatch_http_requests_total",
        {"method": "PUT", "route": "v2/manifests", "status": status},
    )
    return value or 0.0


def test_a_request_is_counted_before_its_last_bytes_are_sent() -> None:
    metrics = Metrics()
    after_answer = asyncio.Event()
    seen: list[float] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        await send({"type": "http.response.body", "body": b"}"})
        await after_answer.wait()  # work after the response, as background tasks do

    async def send(message: Any) -> None:
        if message["type"] == "http.response.body":
            seen.append(_counted(metrics, "201"))
            if not message.get("more_body"):
                after_answer.set()

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    asyncio.run(MetricsMiddleware(app, metrics)(SCOPE, receive, send))
    assert seen == [0.0, 1.0]  # counted with the last bytes, not before
    assert _counted(metrics, "201") == 1.0  # and once


def test_an_app_that_fails_before_answering_is_counted_as_a_500() -> None:
    metrics = Metrics()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("broken")

    async def send(message: Any) -> None:
        raise AssertionError("nothing is sent")

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    with pytest.raises(RuntimeError):
        asyncio.run(MetricsMiddleware(app, metrics)(SCOPE, receive, send))
    assert _counted(metrics, "500") == 1.0
