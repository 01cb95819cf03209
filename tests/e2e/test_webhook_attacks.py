"""Webhooks as an attacker would use them against the real server: to reach internal services
(SSRF), to read their answers through the delivery log, to tell open ports from closed ones, and
to lift subscription secrets from a copy of the database. Each attack is tried and fails."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import Server, start_dockwatch

SECRET = "attack-receiver-secret-0123456789abcdef"
LEAK = "internal-service-token-5f1c2a"
"""What an internal service answers: it must not come back through the delivery log."""


class Endpoint:
    """An HTTP server on 127.0.0.1 answering every POST with `status`, `headers` and `body`."""

    def __init__(self, status: int, body: str = "", headers: dict[str, str] | None = None) -> None:
        self.hits = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                endpoint.hits += 1
                data = body.encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def allowing(tmp_path: Path) -> Iterator[Server]:
    """A server whose operator allowed receivers on 127.0.0.1."""
    server = start_dockwatch(tmp_path / "data", env={"DOCKWATCH_WEBHOOK_ALLOW": "127.0.0.1/32"})
    yield server
    server.stop()


def _subscribe(c: httpx.Client, url: str) -> str:
    r = c.post("/api/v1/webhooks", json={"url": url, "secret": SECRET})
    assert r.status_code == 201, r.text
    return str(r.json()["webhookId"])


def _first_attempt(c: httpx.Client, hook: str) -> dict[str, Any]:
    """Ping the subscription and wait until its first attempt has a result."""
    assert c.post(f"/api/v1/webhooks/{hook}/test").status_code == 202
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        log = c.get(f"/api/v1/webhooks/{hook}/deliveries").json()["deliveries"]
        if log and log[0]["status"] != "PENDING":
            entry: dict[str, Any] = log[0]
            return entry
        time.sleep(0.1)
    raise AssertionError("the first attempt got no result in time")


def test_internal_receivers_are_refused_at_registration(dockwatch: Server) -> None:
    receiver = Endpoint(204)
    try:
        with dockwatch.client() as c:
            for url in (
                receiver.url,
                f"http://localhost:{receiver.server.server_address[1]}/hook",
                "http://[::1]:2375/containers/json",
                "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                "http://[fd00:ec2::254]/latest/meta-data/",
                "http://10.0.0.1/",
                "http://0.0.0.0:5000/",
            ):
                r = c.post("/api/v1/webhooks", json={"url": url, "secret": SECRET})
                assert r.status_code == 400, (url, r.text)
                assert "internal address" in r.text and "DOCKWATCH_WEBHOOK_ALLOW" in r.text
            assert c.get("/api/v1/webhooks").json()["webhooks"] == []
    finally:
        receiver.stop()
    assert receiver.hits == 0


def test_allowlisted_receivers_get_events_and_nothing_leaks_back(allowing: Server) -> None:
    ok = Endpoint(204)
    internal = Endpoint(200, body=LEAK)
    leaky = Endpoint(500, body=LEAK)
    redirecting = Endpoint(302, headers={"Location": internal.url})
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    listener = socket.create_server(("127.0.0.1", 0))  # open, but not an HTTP server

    def hang_up() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    open_port = listener.getsockname()[1]
    try:
        with allowing.client() as c:
            delivered = _first_attempt(c, _subscribe(c, ok.url))
            assert (delivered["status"], delivered["httpStatus"]) == ("DELIVERED", 204)
            assert ok.hits == 1

            moved = _first_attempt(c, _subscribe(c, redirecting.url))
            assert (moved["status"], moved["httpStatus"]) == ("FAILED", 302)
            assert internal.hits == 0  # the redirect was not followed

            failed = _first_attempt(c, _subscribe(c, leaky.url))
            assert (failed["status"], failed["error"]) == ("FAILED", "HTTP 500")
            assert isinstance(failed["durationMs"], int)

            closed = _first_attempt(c, _subscribe(c, f"http://127.0.0.1:{closed_port}/"))
            opened = _first_attempt(c, _subscribe(c, f"http://127.0.0.1:{open_port}/"))
            assert closed["error"] == opened["error"] == "delivery failed: could not connect"
            assert closed["httpStatus"] is opened["httpStatus"] is None

            everything = c.get("/api/v1/webhooks").json()
            logs = [
                c.get(f"/api/v1/webhooks/{h['webhookId']}/deliveries").text
                for h in everything["webhooks"]
            ]
        assert not any(LEAK in text for text in logs)
        assert SECRET not in str(everything)
    finally:
        for endpoint in (ok, internal, leaky, redirecting):
            endpoint.stop()
        listener.close()
    allowing.stop()
    data = allowing.data
    stored = [f.read_bytes() for f in data.iterdir() if f.name.startswith("dockwatch.db")]
    assert not any(LEAK.encode() in b or SECRET.encode() in b for b in stored)
    with contextlib.closing(sqlite3.connect(data / "dockwatch.db")) as db:
        secrets = [s for (s,) in db.execute("SELECT secret FROM webhooks")]
    assert len(secrets) == 5 and all(s.startswith("aesgcm:v1:") for s in secrets)
    assert stat.S_IMODE((data / "webhook-secret.key").stat().st_mode) == 0o600
