"""A local HTTP server on 127.0.0.1 that behaves like the feeds' upstreams.

Each path serves a `Resource`: a body with an ETag and/or Last-Modified (answering 304 to a
matching If-None-Match / If-Modified-Since, as GCS, cisa.gov and the Debian tracker do), a number
of 429 answers with Retry-After first, a body cut off mid-download, or a redirect. `/nvd` pages a
list of CVE items with startIndex/resultsPerPage as the NVD CVE API 2.0 does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson


@dataclass
class Resource:
    """What one path serves."""

    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    honour_conditionals: bool = True
    throttle: int = 0
    """Answer 429 this many times first."""
    retry_after: str | None = "1"
    cut_at: int | None = None
    """Send a Content-Length of the full body but only this many bytes, then close."""
    redirect_to: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers (Content-Encoding, ...)."""
    asked: threading.Event | None = None
    """Set when a request for the body arrives."""
    gate: threading.Event | None = None
    """The body is held back until this is set (at most a minute)."""


@dataclass
class Upstream:
    """The server's state; tests edit `resources` and read `log`."""

    resources: dict[str, Resource] = field(default_factory=dict)
    nvd_items: list[dict[str, Any]] = field(default_factory=list)
    nvd_max_per_page: int = 2000
    nvd_throttle: int = 0
    nvd_calls: int = 0
    log: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    base_url: str = ""

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server."""
        return self.base_url + path


def _handler(up: Upstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            pass

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            parts = urlsplit(self.path)
            up.log.append((self.path, dict(self.headers.items())))
            if parts.path == "/nvd":
                self._nvd(parse_qs(parts.query))
                return
            res = up.resources.get(parts.path)
            if res is None:
                self._send(404, b"not found")
                return
            if res.redirect_to:
                self.send_response(302)
                self.send_header("Location", res.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if res.throttle > 0:
                res.throttle -= 1
                headers = {"Retry-After": res.retry_after} if res.retry_after else {}
                self._send(429, b"slow down", headers)
                return
            if res.honour_conditionals:
                inm = self.headers.get("If-None-Match")
                ims = self.headers.get("If-Modified-Since")
                if (res.etag and inm == res.etag) or (
                    res.last_modified and inm is None and ims == res.last_modified
                ):
                    self.send_response(304)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            if res.asked is not None:
                res.asked.set()
            if res.gate is not None:
                res.gate.wait(60)
            headers = dict(res.headers)
            if res.etag:
                headers["ETag"] = res.etag
            if res.last_modified:
                headers["Last-Modified"] = res.last_modified
            if res.cut_at is not None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(res.body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(res.body[: res.cut_at])
                self.wfile.flush()
                self.close_connection = True
                return
            self._send(res.status, res.body, headers)

        def _nvd(self, q: dict[str, list[str]]) -> None:
            if up.nvd_throttle > 0:
                up.nvd_throttle -= 1
                self._send(429, b"", {"Retry-After": "1"})
                return
            start = int(q.get("startIndex", ["0"])[0])
            per = min(int(q.get("resultsPerPage", ["2000"])[0]), up.nvd_max_per_page)
            items = up.nvd_items[start : start + per]
            up.nvd_calls += 1
            body = orjson.dumps(
                {
                    "resultsPerPage": len(items),
                    "startIndex": start,
                    "totalResults": len(up.nvd_items),
                    "format": "NVD_CVE",
                    "version": "2.0",
                    "timestamp": f"2024-03-19T19:24:{up.nvd_calls % 60:02d}.740",
                    "vulnerabilities": items,
                }
            )
            self._send(200, body)

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

    return Handler


def serve() -> Iterator[Upstream]:
    """Run a server in a thread for the duration of a fixture."""
    up = Upstream()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(up))
    up.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield up
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class SleepRecorder:
    """Stands in for time.sleep: records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


Sleeper = Callable[[float], None]
