"""`dockwatch worker|migrate`: the processes of a scaled-out install.

`serve --no-worker` answers HTTP only; `worker` runs everything else (the scan worker with its
periodic passes, the feed scheduler, webhook delivery) and listens on no port unless
`--metrics-port` asks for a small health and metrics listener. Any number of each may share one
database and one blob store. Both read the same settings as every other command.

Shutdown on SIGTERM or SIGINT: the worker stops claiming, finishes the job in hand (the scan
worker's `stop()` waits for it), ends the webhook round in progress, stops the feed scheduler
before the next feed of its current sync, then closes the database and exits 0 (`serve` does
the same after uvicorn's graceful stop: `quiet_signals_for_uvicorn`). A job still running when
the process is killed outright stays `running` until a worker starts and requeues it
(`JobQueue.recover()`, which today requeues every running job: with several workers a starting
one also requeues the jobs of the others). Job leases replace that: `recover()` must requeue only
jobs whose lease expired, the scan worker must renew the lease of its job while it runs, and
`ScanWorker.stop()` must release (requeue) the job in hand when its wait for the job times out.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_ERROR = 0, 2


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data", type=Path, default=None, help="data folder (default: $DOCKWATCH_DATA, else ./var)"
    )


def add_parsers(sub: Any) -> None:
    """The `worker` and `migrate` subcommands."""
    worker = sub.add_parser(
        "worker", help="run scans, feed syncs, periodic passes and webhook deliveries (no API)"
    )
    _add_data(worker)
    worker.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve /healthz and /metrics on this port (default: no listener)",
    )
    worker.add_argument(
        "--metrics-host", default="127.0.0.1", help="address of the metrics listener"
    )
    worker.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not migrate the database at start (DOCKWATCH_MIGRATE_AT_START=false)",
    )
    migrate = sub.add_parser("migrate", help="bring the database up to the current schema")
    _add_data(migrate)


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from dockwatch.config import from_env

    return from_env(data_dir=getattr(args, "data", None), **extra)


def run_migrate(args: argparse.Namespace) -> int:
    """`dockwatch migrate`."""
    from dockwatch.store_root import migrate_database

    settings = _settings(args)
    where = migrate_database(settings)
    print(f"database at the current schema: {where}")
    return EXIT_OK


def run_worker(args: argparse.Namespace) -> int:
    """`dockwatch worker`: run until SIGTERM or SIGINT, then shut down in order."""
    from dockwatch.app import build, feed_scheduler
    from dockwatch.cli.start_pause import command_started
    from dockwatch.errors import DockwatchError

    settings = _settings(args, migrate_at_start=False if args.no_migrate else None)
    command_started()  # imported: the collector runs again before the database is opened
    try:
        services = build(settings)
    except DockwatchError:
        raise
    except Exception as exc:
        if settings.migrate_at_start:
            raise
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(
            "dockwatch: error: the database is not at the current schema; run `dockwatch "
            f"migrate` first (migration at start is off): {first}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        logger.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    listener = None
    if args.metrics_port is not None:
        listener = _start_listener(services, args.metrics_host, args.metrics_port)
    scheduler = feed_scheduler(services)
    services.worker.start()
    services.webhooks.start()
    scheduler.start()
    print("dockwatch: worker running", file=sys.stderr, flush=True)
    while not stop.wait(1.0):
        pass
    scheduler.stop()
    if listener is not None:
        listener.shutdown()
        listener.server_close()
    services.close()  # the scan worker finishes its job, the deliverer its round
    print("dockwatch: worker stopped", file=sys.stderr, flush=True)
    return EXIT_OK


def health(services: Any) -> tuple[int, dict[str, Any]]:
    """Database and blob store reachability, each on its own, for a worker's `/healthz`."""
    from dockwatch.storage.blobs.blobstore import ReachableBlobs

    body: dict[str, Any] = {"database": "ok", "blobStore": "ok"}
    try:
        services.worker.queue.depth()  # a read of the job table proves the database answers
    except Exception as exc:  # noqa: BLE001 - any failure means unreachable
        body["database"] = f"unavailable: {exc}"
    if isinstance(services.blobs, ReachableBlobs):
        try:
            services.blobs.ping()
        except Exception as exc:  # noqa: BLE001
            body["blobStore"] = f"unavailable: {exc}"
    ok = body["database"] == "ok" and body["blobStore"] == "ok"
    body["status"] = "ok" if ok else "unavailable"
    body["scanner"] = "ready" if services.worker.ready.is_set() else "loading"
    return (200 if ok else 503), body


def _start_listener(services: Any, host: str, port: int) -> ThreadingHTTPServer:
    """`/healthz` and `/metrics` (the job queue's depth per state) on a daemon thread."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # ~35 ms: workers only

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                status, body = health(services)
                self._send(status, "application/json", json.dumps(body).encode())
            elif self.path == "/metrics":
                self._send(200, "text/plain; version=0.0.4", _metrics(services))
            else:
                self._send(404, "text/plain", b"not found\n")

        def _send(self, status: int, media_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def _metrics(services: Any) -> bytes:
    """The worker's gauges in the Prometheus text format."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()
    depth = Gauge("dockwatch_jobs", "Jobs per state.", ["state"], registry=registry)
    for state, count in services.worker.queue.depth().items():
        depth.labels(state=state).set(count)
    ready = Gauge(
        "dockwatch_worker_ready", "1 once the advisory index is loaded.", [], registry=registry
    )
    ready.set(1 if services.worker.ready.is_set() else 0)
    return bytes(generate_latest(registry))


def quiet_signals_for_uvicorn() -> None:
    """Let `serve` stop its own services after uvicorn's graceful stop. uvicorn takes SIGTERM
    and SIGINT while it serves, then puts back the handlers it found and raises the signal
    again: with the default ones the process died there (SIGTERM) or unwound (SIGINT), and the
    scan worker, the webhook deliverer and a feed sync in progress (its lease held for 30
    minutes) were cut off. Handlers that do nothing are what uvicorn finds now."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _sig, _frame: None)


def stop_on_a_second_signal() -> None:
    """While `serve` stops its services, a second SIGTERM or Ctrl-C ends it at once."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
