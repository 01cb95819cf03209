"""Prometheus metrics for the HTTP edge and a pure-ASGI middleware that records them.

prometheus_client (10-14 ms of imports) is imported once the server listens (its warm-up), or
by the first request recorded before that, after its answer has been sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .deferred import Deferred

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram
    from prometheus_client.metrics_core import Metric

PULL_REFUSAL_REASONS = ("not_scanned", "scan_stale", "exploit_available", "severity")
"""The `reason` labels of `dockwatch_pulls_refused_total` (pullpolicy.verdict.REASONS)."""


class _Series:
    """The app's collector registry and the series the edge records."""

    def __init__(self, watched: Iterable[Callable[[], Iterable[Metric]]]) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram
        from prometheus_client.registry import Collector

        self.registry: CollectorRegistry = CollectorRegistry()
        self.requests: Counter = Counter(
            "dockwatch_http_requests",
            "HTTP requests by method, route family and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency: Histogram = Histogram(
            "dockwatch_http_request_seconds",
            "HTTP request latency by method and route family.",
            ["method", "route"],
            registry=self.registry,
        )
        self.pulls_refused: Counter = Counter(
            "dockwatch_pulls_refused",
            "Manifest pulls refused by a pull policy, by the refusal's primary reason.",
            ["reason"],
            registry=self.registry,
        )
        for reason in PULL_REFUSAL_REASONS:
            self.pulls_refused.labels(reason)

        class _Watched(Collector):
            def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
                self._collect = collect

            def collect(self) -> Iterable[Metric]:
                return self._collect()

        for collect in watched:
            self.registry.register(_Watched(collect))


class Metrics:
    """One collector registry per app, so tests can run several servers in one process; its
    series are made on first use, or by the server's warm-up (`series` is one of the app's
    deferred parts)."""

    def __init__(self, gauges: Iterable[Callable[[], Iterable[Metric]]] = ()) -> None:
        """`gauges`: gauges computed when scraped (queue depth, feed age)."""
        watched = list(gauges)
        self.series: Deferred[_Series] = Deferred(lambda: _Series(watched))

    def pull_refused(self, reason: str) -> None:
        """Count one refused pull (`reason`: NOT_SCANNED, SCAN_STALE, ...)."""
        self.series.get().pulls_refused.labels(reason.lower()).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        from prometheus_client import generate_latest

        return generate_latest(self.series.get().registry)


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
        """Record method, route family, status and duration: before the response's last bytes
        are sent, so that a client that has read an answer finds it counted (the app may run
        on after it, with background tasks), or when the app ends without one."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            elapsed = time.perf_counter() - start
            family = route_family(scope["path"])
            series = self.metrics.series.get()
            series.requests.labels(scope["method"], family, str(status)).inc()
            series.latency.labels(scope["method"], family).observe(elapsed)

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                record()
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            record()
