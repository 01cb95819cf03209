"""Build the Starlette application from the services."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

from anyio import to_thread
from prometheus_client.metrics_core import Metric
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from dockwatch.app import Services
from dockwatch.clock import ControlledClock

from .auth import Authenticator
from .metrics import Metrics, MetricsMiddleware
from .oci.routes import API_VERSION, OciApi
from .v1.routes import routes as api_v1_routes

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
PUBLIC_PATHS = ("/healthz", "/metrics")


class AuthMiddleware:
    """HTTP Basic on everything but the operations endpoints."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator | None) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse requests without valid credentials with the spec's UNAUTHORIZED body."""
        if scope["type"] != "http" or self.authenticator is None or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        header = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                header = v.decode("latin-1")
                break
        user = self.authenticator.cached(header)
        if user is None:  # first sight of these credentials: scrypt, off the event loop
            user = await to_thread.run_sync(self.authenticator.check, header)
        if user is None:
            doc: dict[str, object]
            if scope["path"].startswith("/api/"):
                doc = {"__type": "UnauthorizedException", "message": "authentication required"}
            else:
                error = {
                    "code": "UNAUTHORIZED",
                    "message": "authentication required",
                    "detail": None,
                }
                doc = {"errors": [error]}
            body = json.dumps(doc).encode()
            response = Response(
                body if scope["method"] != "HEAD" else b"",
                status_code=401,
                headers={
                    **API_VERSION,
                    "WWW-Authenticate": 'Basic realm="dockwatch"',
                    "Content-Type": "application/json",
                    "Content-Length": str(len(body)),
                },
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)


def create_app(services: Services) -> ASGIApp:
    """The ASGI app serving /v2/, the operations endpoints and test hooks."""
    oci = OciApi(services.registry)
    metrics = Metrics()
    metrics.watch(lambda: _state_gauges(services))

    async def healthz(request: Request) -> Response:
        def probe() -> list[dict[str, Any]]:
            with services.db.read() as conn:
                conn.exec_driver_sql("SELECT 1")
            return _feed_status(services)

        try:
            feeds = await to_thread.run_sync(probe)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return JSONResponse({"status": "unavailable", "error": str(exc)}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "scanner": "ready" if services.worker.ready.is_set() else "loading",
                "feeds": feeds,
                "staleFeeds": [f["name"] for f in feeds if f["stale"]],
            }
        )

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    async def test_clock(request: Request) -> Response:
        clock = services.clock
        if not services.settings.test_mode or not isinstance(clock, ControlledClock):
            return JSONResponse({"message": "clock control needs test mode"}, status_code=403)
        if request.method == "POST":
            body = await request.json()
            if "set" in body:
                clock.set(datetime.fromisoformat(body["set"]))
            if "advanceSeconds" in body:
                clock.advance(timedelta(seconds=float(body["advanceSeconds"])))
        return JSONResponse({"now": clock.now().isoformat()})

    async def v2(request: Request) -> Response:
        return await oci(request)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/-/test/clock", test_clock, methods=["GET", "POST"]),
        Route("/v2", v2, methods=ALL_METHODS),
        Route("/v2/{rest:path}", v2, methods=ALL_METHODS),
        *api_v1_routes(services),
    ]
    app = Starlette(routes=routes)
    authenticator = Authenticator(services.db, services.tenant) if services.settings.auth else None
    return MetricsMiddleware(AuthMiddleware(app, authenticator), metrics)


def basic_auth_header(username: str, password: str) -> str:
    """An Authorization header value for HTTP Basic (used by the CLI client and tests)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _state_gauges(services: Services) -> list[Metric]:
    """Queue depth by state and the age of each advisory source, read when scraped."""
    from prometheus_client.core import GaugeMetricFamily

    jobs = GaugeMetricFamily("dockwatch_scan_jobs", "Scan jobs by state.", labels=["state"])
    for state, n in services.worker.queue.depth().items():
        jobs.add_metric([state], n)
    age = GaugeMetricFamily(
        "dockwatch_feed_age_seconds", "Seconds since each source last succeeded.", labels=["source"]
    )
    feeds = _feed_status(services)
    feed_metrics = _feed_gauges(feeds)
    for feed in feeds:
        if feed["ageSeconds"] is not None:
            age.add_metric([feed["name"]], feed["ageSeconds"])

    from dockwatch.scan.worker import CURSOR, SUBSCRIBED
    from dockwatch.storage.sql import outbox

    pending = GaugeMetricFamily(
        "dockwatch_scan_events_pending",
        "Outbox events (pushes, deletes, advisory updates) the scan worker has not read yet.",
    )
    with services.db.read() as conn:
        box = outbox.SqlOutbox(conn)
        pending.add_metric([], box.count_after(box.cursor(CURSOR), SUBSCRIBED))
    return [jobs, age, pending, *feed_metrics]


def _feed_status(services: Services) -> list[dict[str, Any]]:
    """Per feed: last success, last attempt, last error, age, stale (`db status --json`)."""
    from dockwatch.vulndb.service import VulnDb

    stale_after = timedelta(hours=services.settings.feed_stale_hours)
    sources: list[dict[str, Any]] = VulnDb(services.store, services.clock).status(stale_after)[
        "sources"
    ]
    return sources


def _feed_gauges(feeds: list[dict[str, Any]]) -> list[Metric]:
    """The feed health gauges: stale flag, last success and last attempt times, failing flag."""
    from prometheus_client.core import GaugeMetricFamily

    stale = GaugeMetricFamily(
        "dockwatch_feed_stale",
        "1 when a source's last success is older than DOCKWATCH_FEED_STALE_HOURS (or never).",
        labels=["source"],
    )
    success = GaugeMetricFamily(
        "dockwatch_feed_last_success_timestamp_seconds",
        "When each source last synced or imported successfully.",
        labels=["source"],
    )
    attempt = GaugeMetricFamily(
        "dockwatch_feed_last_attempt_timestamp_seconds",
        "When each source was last tried.",
        labels=["source"],
    )
    failing = GaugeMetricFamily(
        "dockwatch_feed_failing",
        "1 when a source's last attempt failed (its last error is in db status and /healthz).",
        labels=["source"],
    )
    for f in feeds:
        stale.add_metric([f["name"]], 1 if f["stale"] else 0)
        failing.add_metric([f["name"]], 1 if f["lastError"] else 0)
        if f["lastSuccessAt"]:
            success.add_metric([f["name"]], datetime.fromisoformat(f["lastSuccessAt"]).timestamp())
        if f["lastAttemptAt"]:
            attempt.add_metric([f["name"]], datetime.fromisoformat(f["lastAttemptAt"]).timestamp())
    return [stale, success, attempt, failing]
