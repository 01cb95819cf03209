"""Build the Starlette application from the services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from threading import Thread
from typing import TYPE_CHECKING, Any

from anyio import to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp

from dockwatch.app import Services
from dockwatch.clock import ControlledClock
from dockwatch.scan.worker import CURSOR, SUBSCRIBED
from dockwatch.storage.blobs.blobstore import ReachableBlobs
from dockwatch.value_class import frozen

from .activity import ActivityMiddleware, RequestActivity
from .audit_middleware import audit_middleware
from .auth import Authenticator, BootstrapResult
from .auth_middleware import AuthMiddleware
from .aws.mount import AwsMount
from .deferred import Deferred, PrefixedPart, warm_up
from .metrics import Metrics, MetricsMiddleware
from .oci.routes import API_VERSION, OciApi
from .oci.tenancy import TenantOci
from .throttle import FailureLimiter, LimiterPolicy, VerificationGate
from .v1.body import Limits, parse_json, read_raw
from .v1.router import AnyMethod

API_V1_PREFIX, CONSOLE_PREFIX = "/api/v1", "/console"

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from .aws.protocol import ServicesFor


@frozen
class ServedApp:
    """The ASGI app, and the parts of it made on first use (`deferred.py`)."""

    asgi: ASGIApp
    deferred: tuple[Deferred[Any], ...]
    activity: RequestActivity
    """The requests in flight (`serve` starts its background loading in a quiet moment)."""
    users: Deferred[BootstrapResult] | None
    """The users' set-up, when `serve_app` was given one (`serve` runs it once it listens)."""

    def warm_up(self) -> Thread:
        """Make the deferred parts now, in a background thread (`serve`: once it listens)."""
        return warm_up(self.deferred)


def create_app(services: Services, services_for: ServicesFor | None = None) -> ASGIApp:
    """The ASGI app serving /v2/, the operations endpoints, test hooks and the AWS APIs
    (`services_for` gives each AWS tenant its services; default: this app's tenant only)."""
    return serve_app(services, services_for).asgi


def serve_app(
    services: Services,
    services_for: ServicesFor | None = None,
    set_up_users: Callable[[], BootstrapResult] | None = None,
) -> ServedApp:
    """`create_app`, with the parts that are made on first use. `set_up_users` (`serve`'s
    `bootstrap_user`) is run once, by `ServedApp.users` or by the first request that signs in,
    which waits for it."""
    metrics = Metrics(gauges=[lambda: _state_gauges(services)])
    oci = TenantOci(services, metrics.pull_refused, services.registry_tokens)

    async def healthz(request: Request) -> Response:
        def probe() -> list[dict[str, Any]]:
            return _feed_status(services)  # reading the feed table proves the database answers

        blob_error = await to_thread.run_sync(_blob_store_error, services)
        try:
            feeds = await to_thread.run_sync(probe)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return JSONResponse(
                {"status": "unavailable", "error": str(exc), "database": f"unavailable: {exc}",
                 "blobStore": blob_error or "ok"},
                status_code=503,
            )  # fmt: skip
        if blob_error:
            return JSONResponse(
                {"status": "unavailable", "error": blob_error, "database": "ok",
                 "blobStore": blob_error},
                status_code=503,
            )  # fmt: skip
        return JSONResponse(
            {
                "status": "ok",
                "database": "ok",
                "blobStore": "ok",
                "scanner": _scanner_state(services),
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
            body = parse_json(await read_raw(request, Limits()), "the body", Limits())
            if "set" in body:
                clock.set(datetime.fromisoformat(body["set"]))
            if "advanceSeconds" in body:
                clock.advance(timedelta(seconds=float(body["advanceSeconds"])))
        return JSONResponse({"now": clock.now().isoformat()})

    async def v2(request: Request) -> Response:
        if request.method == "OPTIONS":
            allow = oci_methods(oci, request.url.path)
            if allow:
                return Response(status_code=204, headers={**API_VERSION, "Allow": allow})
        response = await oci(request)
        if response.status_code == 405:
            response.headers["Allow"] = oci_methods(oci, request.url.path)
        return response

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/-/test/clock", test_clock, methods=["GET", "POST"]),
        Route("/v2", AnyMethod(v2)),
        Route("/v2/{rest:path}", AnyMethod(v2)),
    ]
    # the JSON API: its routes and OpenAPI document made on first use (about 20 ms of start)
    api_v1 = Deferred(lambda: _api_v1(services))
    app = PrefixedPart(API_V1_PREFIX, api_v1, Starlette(routes=routes))
    users = None if set_up_users is None else Deferred(lambda: _set_up(set_up_users, edge))
    edge = auth_middleware(audit_middleware(app, services), services, users)
    # the web console at /console/: its own session sign-in over the same authenticator
    console = Deferred(lambda: _console(services, edge))
    aws = AwsMount(PrefixedPart(CONSOLE_PREFIX, console, edge), services, services_for)
    activity = RequestActivity()
    asgi = ActivityMiddleware(MetricsMiddleware(aws, metrics), activity)
    parts = (metrics.series, api_v1, aws.adapters, console)
    return ServedApp(asgi, parts, activity, users)


def _set_up(set_up_users: Callable[[], BootstrapResult], door: AuthMiddleware) -> BootstrapResult:
    """The users set up; the configured credentials, just checked, are remembered as verified
    (the first request bringing them runs no scrypt of its own)."""
    boot = set_up_users()
    if boot.checked is not None and door.authenticator is not None:
        door.authenticator.remember(*boot.checked)
    return boot


def _api_v1(services: Services) -> ASGIApp:
    from .v1.routes import routes  # its operations' modules and the OpenAPI document

    return Router(routes=routes(services))


def _console(services: Services, door: AuthMiddleware) -> ASGIApp:
    from .console.app import create_console  # its pages and Jinja: made on first use

    return create_console(services, door)


def _blob_store_error(services: Services) -> str | None:
    """None when the blob store answers, else why not (a health answer, never an exception)."""
    blobs = services.blobs
    if not isinstance(blobs, ReachableBlobs):
        return None
    try:
        blobs.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means unreachable
        return f"unavailable: {exc}"
    return None


def auth_middleware(
    app: ASGIApp, services: Services, users: Deferred[BootstrapResult] | None = None
) -> AuthMiddleware:
    """The authentication door with the limits the settings give."""
    s = services.settings

    def now() -> float:
        return services.clock.now().timestamp()

    def limiter(free: int) -> FailureLimiter:
        policy = LimiterPolicy(
            free_failures=free,
            backoff_max=float(s.auth_backoff_max_seconds),
            half_life=float(s.auth_failure_half_life_seconds),
        )
        return FailureLimiter(policy, now)

    authenticator = (
        Authenticator(
            services.store,
            services.tenant,
            cache_seconds=s.auth_cache_seconds,
            now=now,
            users=users,
        )
        if s.auth
        else None
    )
    return AuthMiddleware(
        app,
        authenticator,
        by_address=limiter(s.auth_free_failures_per_address),
        by_user=limiter(s.auth_free_failures_per_user),
        gate=VerificationGate(
            s.auth_max_concurrent_verifications,
            s.auth_max_waiting_verifications,
            float(s.auth_verification_wait_seconds),
        ),
        tokens=services.registry_tokens,
        bearer_challenges=s.registry_bearer_challenges,
    )


def oci_methods(oci: OciApi | TenantOci, path: str) -> str:
    """The `Allow` header of a /v2 path: the methods its route declares (and OPTIONS)."""
    for pattern, methods in oci.routes:
        if pattern.match(path):
            return ", ".join(sorted({*methods, "OPTIONS"}))
    return ""


def _state_gauges(services: Services) -> list[Metric]:
    """Queue depth by state, the age of each advisory source and the unread scan events, read
    when scraped."""
    from prometheus_client.core import GaugeMetricFamily  # when first scraped (api/metrics.py)

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

    pending = GaugeMetricFamily(
        "dockwatch_scan_events_pending",
        "Outbox events (pushes, deletes, advisory updates) the scan worker has not read yet.",
    )
    with services.store.read() as uow:
        box = uow.outbox
        pending.add_metric([], box.count_after(box.cursor(CURSOR), SUBSCRIBED))
    return [jobs, age, pending, *feed_metrics]


SCANNER_ELSEWHERE = "not running in this process"
"""`/healthz`'s `scanner` on an API-only process (`serve --no-worker`): scans run in workers."""


def _scanner_state(services: Services) -> str:
    """`ready` once the in-process worker has loaded the advisory index, `loading` before."""
    if not services.worker.running:
        return SCANNER_ELSEWHERE
    return "ready" if services.worker.ready.is_set() else "loading"


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
