"""The test servers' start: a port another process took between `free_port` and the server's
bind is noticed (that process would otherwise answer the tests), and a server started without a
port moves to another."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.support import servers


class _Redirect(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the handler's interface
        self.send_response(302)
        self.send_header("Location", "/elsewhere")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def squatter() -> Iterator[int]:
    """Another HTTP server, answering every request with a redirect."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_port_another_server_holds_is_noticed(tmp_path: Path, squatter: int) -> None:
    with pytest.raises(servers.PortTaken):
        servers.start_dockwatch(tmp_path / "data", port=squatter)


def test_without_a_port_the_server_moves_on(
    tmp_path: Path, squatter: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = iter([squatter])
    free = servers.free_port
    monkeypatch.setattr(servers, "free_port", lambda: next(ports, None) or free())
    server = servers.start_dockwatch(tmp_path / "data")
    try:
        assert server.port != squatter
        with server.client() as c:
            assert c.get("/healthz").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{squatter}/healthz").status_code == 302
    finally:
        server.stop()
