"""Sending one webhook request: signed, to a vetted address, and what the log may keep of it.

The answer's body is never read: the log keeps the status code and timing only, so a receiver
cannot be made to tell its secrets back through the delivery log. Every connection failure
reads the same (`CONNECT_FAILED`), so the log cannot tell an open port from a closed one; an
address the egress policy refuses reads `REFUSED` without any connection being made.

httpx is imported by the first send, not with this module: a server makes its sender before
its first answer and delivers later (`guarded_transport.py`).
"""

from __future__ import annotations

import ssl
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from dockwatch import __version__
from dockwatch.storage.webhook_repo import WebhookRow
from dockwatch.value_class import frozen

from . import signing
from .egress import EgressPolicy, ForbiddenAddress
from .secretbox import SecretBox, SecretUnreadable

if TYPE_CHECKING:
    import httpx


@frozen
class DeliveryPolicy:
    """How hard and how fast to try."""

    max_attempts: int = 15
    """Attempts per (subscription, event) before giving up."""
    max_age: timedelta = timedelta(hours=24)
    """Give up on a delivery this long after its first attempt was scheduled."""
    base_delay: timedelta = timedelta(seconds=5)
    """Backoff before the second attempt (before jitter); it doubles for each later one."""
    max_delay: timedelta = timedelta(hours=1)
    """Backoff ceiling (before jitter)."""
    timeout_seconds: float = 10.0
    """Per read/write of a request (httpx semantics)."""
    connect_timeout_seconds: float = 5.0
    concurrency: int = 8
    """Requests in flight at once."""
    batch: int = 64
    """Attempts claimed per round."""
    fan_out_batch: int = 500
    """Outbox events read per fan-out transaction."""
    lease: timedelta = timedelta(minutes=2)
    """How long a claimed attempt is reserved for its sender."""


@frozen
class Outcome:
    """What one send did."""

    ok: bool
    http_status: int | None
    error: str | None
    duration_ms: int | None


CONNECT_FAILED = "delivery failed: could not connect"
"""The one text of every connection failure: open, closed and filtered ports look the same."""
REFUSED = (
    "delivery refused: the receiver's address is internal (loopback, private, link-local, "
    "multicast or cloud metadata); DOCKWATCH_WEBHOOK_ALLOW can allow it"
)
CERTIFICATE_FAILED = (
    "delivery failed: the receiver's certificate did not verify (CERTIFICATE_VERIFY_FAILED)"
)


def failure_text(exc: httpx.HTTPError) -> str:
    """What the log says about a request that got no answer."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ForbiddenAddress):
            return REFUSED
        if isinstance(cause, ssl.SSLCertVerificationError):
            return CERTIFICATE_FAILED
        cause = cause.__cause__ or cause.__context__
    return CONNECT_FAILED


class Sender:
    """Signs and POSTs bodies; one client per TLS-verification mode, shared by threads."""

    def __init__(
        self,
        policy: DeliveryPolicy,
        box: SecretBox,
        egress: EgressPolicy,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self.box = box
        self.egress = egress
        self._transport = transport
        """A fixed transport (tests): it replaces the guarded one."""
        self._clients: dict[bool, httpx.Client] = {}
        self._clients_lock = threading.Lock()

    def send(
        self, hook: WebhookRow, body: bytes, *, event_id: str, event_type: str, timestamp: int
    ) -> Outcome:
        """POST `body` to the subscription, signed with its secret."""
        import httpx

        try:
            secret = self.box.open(hook.secret, hook.id)
        except SecretUnreadable as exc:
            return Outcome(False, None, str(exc), None)
        headers = signing.headers(secret, timestamp, body, event_id, event_type)
        headers["User-Agent"] = f"dockwatch-webhooks/{__version__}"
        started = time.monotonic()
        try:
            with self._client(verify=not hook.insecure_skip_verify).stream(
                "POST", hook.url, content=body, headers=headers
            ) as response:
                status = response.status_code
        except httpx.HTTPError as exc:
            elapsed = int((time.monotonic() - started) * 1000)
            return Outcome(False, None, failure_text(exc), elapsed)
        elapsed = int((time.monotonic() - started) * 1000)
        if 200 <= status < 300:
            return Outcome(True, status, None, elapsed)
        return Outcome(False, status, f"HTTP {status}", elapsed)

    def _client(self, *, verify: bool) -> httpx.Client:
        import httpx

        from .guarded_transport import guarded_transport

        with self._clients_lock:
            client = self._clients.get(verify)
            if client is None:
                transport = self._transport or guarded_transport(
                    self.egress, verify=verify, max_connections=self.policy.concurrency
                )
                client = httpx.Client(
                    timeout=httpx.Timeout(
                        self.policy.timeout_seconds, connect=self.policy.connect_timeout_seconds
                    ),
                    follow_redirects=False,
                    trust_env=False,
                    transport=transport,
                )
                self._clients[verify] = client
            return client

    def close(self) -> None:
        """Release every connection."""
        with self._clients_lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
