"""Prometheus metrics for the HTTP edge and a pure-ASGI middleware that records them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PULL_REFUSAL_REASONS = ("not_scanned", "scan_stale", "exploit_available", "severity")
"""The `reason` labels of `dockwatch_pulls_refused_total` (pullpolicy.verdict.REASONS)."""


class Metrics:
    """One collector registry per app, so tests can run several servers in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "dockwatch_http_requests",
            "HTTP requests by method, route family and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dockwatch_http_request_seconds",
            "HTTP request latency by method and route family.",
            ["method", "route"],
            registry=self.registry,
        )
        self.pulls_refused = Counter(
            "dockwatch_pulls_refused",
            "Manifest pulls refused by a pull policy, by the refusal's primary reason.",
            ["reason"],
            registry=self.registry,
        )
        for reason in PULL_REFUSAL_REASONS:
            self.pulls_refused.labels(reason)

    def pull_refused(self, reason: str) -> None:
        """Count one refused pull (`reason`: NOT_SCANNED, SCAN_STALE, ...)."""
        self.pulls_refused.labels(reason.lower()).inc()

    def watch(self, collect: Callable[[], Iterable[Metric]]) -> None:
        """Add gauges computed when scraped (queue depth, feed age)."""

        class _Collector(Collector):
            def collect(self) -> Iterable[Metric]:
                return collect()

        self.registry.register(_Collector())

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)


def route_family(path: str) -> str:
    """A low-cardinality label for a path (no repository names or digests)."""
    if path.startswith("/v2/"):
        for part in ("/blobs/uploads", "/blobs/", "/manifests/", "/tags/list", "/referrers/"):
            if part in path:
                return "v2" + part.rstrip("/")
        return "v2/_catalog" if path.endswith("_catalog") else "v2"
    if path.startswith("/api/"):
        return "api"
    return path if path in ("/healthz", "/metrics") else "other"


class MetricsMiddleware:
    """Counts and times every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Record method, route family, status and duration."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            family = route_family(scope["path"])
            self.metrics.requests.labels(scope["method"], family, str(status)).inc()
            self.metrics.latency.labels(scope["method"], family).observe(
                time.perf_counter() - start
            )
