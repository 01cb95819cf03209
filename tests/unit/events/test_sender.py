"""One request: the log learns the status and timing, never the answer, and every connection
failure reads the same whatever is (or is not) listening."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from dockwatch.events.egress import EgressPolicy
from dockwatch.events.secretbox import SecretBox
from dockwatch.events.sender import CONNECT_FAILED, DeliveryPolicy, Sender
from dockwatch.storage.webhook_repo import WebhookRow

BOX = SecretBox(os.urandom(32))


def _hook(url: str) -> WebhookRow:
    return WebhookRow(
        "hook-1", "123456789012", "us-east-1", url, BOX.seal("s" * 32, "hook-1"), (), "",
        True, False, 0, datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip


def _send(sender: Sender, url: str) -> tuple[bool, int | None, str | None]:
    outcome = sender.send(_hook(url), b"{}", event_id="e", event_type="WebhookTest", timestamp=1)
    return outcome.ok, outcome.http_status, outcome.error


@pytest.fixture
def hang_up_port() -> Iterator[int]:
    """A port that accepts connections and closes them at once (not an HTTP server)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                conn.close()

    threading.Thread(target=run, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


def test_open_and_closed_ports_read_the_same(hang_up_port: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    sender = Sender(DeliveryPolicy(), BOX, EgressPolicy.parse("127.0.0.1"))
    try:
        assert _send(sender, f"http://127.0.0.1:{closed}/") == (False, None, CONNECT_FAILED)
        assert _send(sender, f"http://127.0.0.1:{hang_up_port}/") == (False, None, CONNECT_FAILED)
    finally:
        sender.close()


def test_the_answer_body_is_not_kept_and_the_secret_signs() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["X-Dockwatch-Signature"])
        return httpx.Response(500, text="db password is hunter2")

    sender = Sender(DeliveryPolicy(), BOX, EgressPolicy(), httpx.MockTransport(answer))
    try:
        assert _send(sender, "https://hooks.example/in") == (False, 500, "HTTP 500")
    finally:
        sender.close()
    assert len(seen) == 1 and seen[0].startswith("sha256=")


def test_internal_receivers_are_refused_without_connecting() -> None:
    sender = Sender(DeliveryPolicy(), BOX, EgressPolicy())
    try:
        ok, status, error = _send(sender, "http://169.254.169.254/latest/meta-data/")
    finally:
        sender.close()
    assert (ok, status) == (False, None)
    assert error is not None and error.startswith("delivery refused")
