"""Build the Starlette application from the services."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta

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
        def probe() -> None:
            with services.db.read() as conn:
                conn.exec_driver_sql("SELECT 1")

        try:
            await to_thread.run_sync(probe)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return JSONResponse({"status": "unavailable", "error": str(exc)}, status_code=503)
        return JSONResponse(
            {"status": "ok", "scanner": "ready" if services.worker.ready.is_set() else "loading"}
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
    now = services.clock.now()
    with services.db.read() as conn:
        from dockwatch.model.times import as_utc
        from dockwatch.storage.sql import vuln_repo

        for source in vuln_repo.all_sources(conn):
            if source.get("last_success_at") is not None:
                age.add_metric(
                    [source["name"]], (now - as_utc(source["last_success_at"])).total_seconds()
                )
    from dockwatch.scan.worker import CURSOR, SUBSCRIBED
    from dockwatch.storage.sql import outbox

    pending = GaugeMetricFamily(
        "dockwatch_scan_events_pending",
        "Outbox events (pushes, deletes, advisory updates) the scan worker has not read yet.",
    )
    with services.db.read() as conn:
        box = outbox.SqlOutbox(conn)
        pending.add_metric([], box.count_after(box.cursor(CURSOR), SUBSCRIBED))
    return [jobs, age, pending]
