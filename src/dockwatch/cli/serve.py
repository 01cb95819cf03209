"""`dockwatch serve`: the registry, its APIs and (unless `--no-worker`) the embedded worker.

The server answers as soon as it listens. A background thread started then sets up the
configured user (a request that signs in meanwhile waits for it), waits for a moment with no
request in flight (`api/activity.py`), starts the embedded services (scan worker, webhook
deliveries, scheduled feed syncs: their jobs wait in the database meanwhile) and makes the parts
of the app a registry client never calls (the metrics' series, the AWS layer, the console:
`api/deferred.py`), unless a request needs one first. Before, all of it came before the first
answer: a restart answered its first `/v2/` 0.90-0.94 s after the process started, 0.38-0.41 s
now on SQLite and 0.47-0.51 s on PostgreSQL (`bench/startup.py`, docs/deploy.md).
"""

from __future__ import annotations

import argparse
import functools
import logging
import socket
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import uvicorn

from dockwatch.api.app import serve_app
from dockwatch.api.auth import BootstrapResult, bootstrap_user
from dockwatch.app import Services, build, feed_scheduler
from dockwatch.cli.processes import quiet_signals_for_uvicorn, stop_on_a_second_signal
from dockwatch.cli.start_pause import command_started

if TYPE_CHECKING:
    from dockwatch.vulndb.scheduler import FeedScheduler

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_STARTUP_FAILURE = 0, 3
"""3: uvicorn's own status when it could not start (the port taken, the certificate unreadable)."""

QUIET_S, QUIET_WAIT_MOST_S = 0.02, 1.0
"""The start thread waits for a moment with no request in flight (`QUIET_S` since the last one
ended), for `QUIET_WAIT_MOST_S` at most, before it loads anything (`api/activity.py`)."""


class _Server(uvicorn.Server):
    """uvicorn's server, telling `listening` once its sockets accept connections."""

    def __init__(self, config: uvicorn.Config, listening: Callable[[], Any]) -> None:
        super().__init__(config)
        self._listening = listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            self._listening()


class EmbeddedServices:
    """The scan worker, webhook deliverer and feed scheduler `serve` runs beside its API:
    started once it listens, stopped after uvicorn's graceful stop (a start that comes after
    the stop starts nothing)."""

    def __init__(self, services: Services, scheduler: FeedScheduler | None) -> None:
        self.services = services
        self.scheduler = scheduler
        """Made before serving when DOCKWATCH_FEEDS names the feeds (so that a name no feed
        has stops the start), else by `start`."""
        self._lock = threading.Lock()
        self._stopped = False

    def start(self) -> None:
        """Start each service (`serve`: in the thread it starts once it listens)."""
        with self._lock:
            if self._stopped:
                return
            self.services.worker.start()  # embedded mode: scans run in this process
            self.services.webhooks.start()  # and webhook deliveries
            if self.scheduler is None:
                self.scheduler = feed_scheduler(self.services)
            self.scheduler.start()  # and scheduled feed syncs (DOCKWATCH_SYNC_INTERVAL)

    def stop(self) -> None:
        """Stop the feed scheduler: a sync in progress ends before its next feed, its lease
        released (the worker and the deliverer stop with the services)."""
        with self._lock:
            self._stopped = True
            if self.scheduler is not None:
                self.scheduler.stop()


def _set_up_users(services: Services, settings: Any) -> BootstrapResult:
    """The configured user made (or its password changed), or one generated on first start:
    its password is printed once."""
    boot = bootstrap_user(
        services.store, services.tenant, settings.username, settings.password, datetime.now(UTC)
    )
    if boot.generated_password:
        print(
            "dockwatch: created the registry user on first start (shown once, stored hashed):\n"
            f"  username: {boot.username}\n  password: {boot.generated_password}\n"
            "Set DOCKWATCH_USERNAME/DOCKWATCH_PASSWORD to choose your own.",
            file=sys.stderr,
            flush=True,
        )
    return boot


def run(args: argparse.Namespace, settings: Any) -> int:
    """Serve until SIGTERM or Ctrl-C, then stop the embedded services; the exit status."""
    command_started()  # imported: the collector runs again before the database is opened
    services = build(settings)
    for warning in settings.lint():
        print(f"WARNING: {warning}", file=sys.stderr)
    if not settings.auth:
        print(
            "\n!!! dockwatch is running WITHOUT AUTHENTICATION (--no-auth): anyone who can reach "
            f"{settings.host}:{settings.port} can push, pull and delete. !!!\n",
            file=sys.stderr,
        )
    # the user is set up once the server listens: checking the configured password against
    # the stored hash is one scrypt (45 ms); a request bringing credentials waits for it
    set_up_users = functools.partial(_set_up_users, services, settings) if settings.auth else None
    app = serve_app(services, set_up_users=set_up_users)
    embedded = None
    if not args.no_worker:
        # the feeds' names are checked before serving when they are given
        embedded = EmbeddedServices(services, feed_scheduler(services) if settings.feeds else None)

    def listening() -> None:
        def start_the_rest() -> None:
            if app.users is not None:
                try:
                    app.users.get()
                except Exception:  # noqa: BLE001 - the next request that signs in tries again
                    logger.exception("the registry user could not be set up")
            app.activity.wait_quiet(QUIET_S, QUIET_WAIT_MOST_S)  # the first requests first
            if embedded is not None:
                try:
                    embedded.start()
                except Exception:  # noqa: BLE001 - the API serves on; the log says why
                    logger.exception("the embedded worker could not start")
            app.warm_up().join()

        threading.Thread(target=start_the_rest, name="start", daemon=True).start()

    scheme = "https" if settings.tls_cert else "http"
    print(f"dockwatch: serving {scheme}://{settings.host}:{settings.port}/v2/", file=sys.stderr)
    quiet_signals_for_uvicorn()
    config = uvicorn.Config(
        app.asgi,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        timeout_keep_alive=30,
    )
    server = _Server(config, listening)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    stop_on_a_second_signal()
    if not args.no_worker:
        print(
            "dockwatch: stopping: the scan in hand, the webhook round and the feed in sync end "
            "first (a second Ctrl-C or SIGTERM stops at once)",
            file=sys.stderr,
            flush=True,
        )
    if embedded is not None:
        embedded.stop()
    services.close()  # after uvicorn's graceful stop: the job in hand finishes first
    print("dockwatch: stopped", file=sys.stderr, flush=True)
    return EXIT_OK if server.started else EXIT_STARTUP_FAILURE
