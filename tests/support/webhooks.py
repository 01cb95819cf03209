"""A webhook receiver for tests: an HTTP endpoint on 127.0.0.1 (port 0) that checks every
signature with `hmac`, records what arrives, and can answer 500 to the first tries of each event;
with the names of the events the server sends and the server's default tenant."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "e2e-receiver-secret-0123456789abcdef"
ACCOUNT, REGION = "000000000000", "us-east-1"  # the server's defaults
DETAIL_TYPES = {
    "ManifestPushed": "ECR Image Action",
    "ManifestDeleted": "ECR Image Action",
    "TagChanged": "ECR Image Action",
    "ScanCompleted": "Inspector2 Scan",
    "CoverageChanged": "Inspector2 Coverage",
    "FindingCreated": "Inspector2 Finding",
    "FindingUpdated": "Inspector2 Finding",
    "FindingClosed": "Inspector2 Finding",
}


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    event_id: str
    body: bytes
    status: int


class Receiver:
    """An HTTP endpoint answering 500 to the first `fail_first` tries of each event id."""

    def __init__(
        self,
        fail_first: int = 0,
        secret: str = SECRET,
        slow: float = 0.0,
        sender_may_die: bool = False,
    ) -> None:
        self.fail_first = fail_first
        self.slow = slow
        """Seconds to hold each 2xx answer: the sender is mid-request more of the time."""
        self.secret = secret
        self.sender_may_die = sender_may_die
        """The test kills the sender: a request it left unfinished (its connection closed
        before the body's last byte) goes to `cut`, not `bad`."""
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.bad: list[str] = []
        self.cut: list[str] = []
        self.holding = 0
        """2xx answers taken but not yet sent back."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = self.rfile.read(length)
                if len(body) < length:  # the connection closed mid-body: nobody to answer
                    receiver.unfinished(self.headers, len(body), length)
                    return
                status = receiver.answer(self.headers, body)
                if status == 200 and receiver.slow:
                    with receiver.lock:
                        receiver.holding += 1
                    time.sleep(receiver.slow)
                    with receiver.lock:
                        receiver.holding -= 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """Where to send events."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def unfinished(self, headers: Any, got: int, length: int) -> None:
        """A request whose body ended early: the sender died mid-request, or sent less than it
        declared (a fault, unless `sender_may_die`)."""
        what = f"{got} of {length} body bytes for {headers.get('X-Dockwatch-Event-Id', '')}"
        with self.lock:
            (self.cut if self.sender_may_die else self.bad).append(what)

    def answer(self, headers: Any, body: bytes) -> int:
        ts = headers.get("X-Dockwatch-Timestamp", "")
        mac = hmac.new(self.secret.encode(), ts.encode() + b"." + body, hashlib.sha256)
        signature = headers.get("X-Dockwatch-Signature", "")
        header_id = headers.get("X-Dockwatch-Event-Id", "")
        with self.lock:
            if not hmac.compare_digest("sha256=" + mac.hexdigest(), signature):
                self.bad.append(f"bad signature for {header_id}")
                return 401
            if json.loads(body).get("id") != header_id:
                self.bad.append(f"header id {header_id} is not the body's id")
                return 400
            tries = sum(1 for r in self.received if r.event_id == header_id)
            status = 500 if tries < self.fail_first else 200
            self.received.append(Received(header_id, body, status))
            return status

    def delivered(self) -> dict[str, list[bytes]]:
        """Bodies answered 2xx, by event id."""
        with self.lock:
            out: dict[str, list[bytes]] = {}
            for r in self.received:
                if r.status == 200:
                    out.setdefault(r.event_id, []).append(r.body)
            return out

    def all_bodies(self) -> dict[str, set[bytes]]:
        """Every distinct body received under each id, whatever the answer."""
        with self.lock:
            out: dict[str, set[bytes]] = {}
            for r in self.received:
                out.setdefault(r.event_id, set()).add(r.body)
            return out

    def stop(self) -> None:
        """Close the listening socket."""
        self.server.shutdown()
        self.server.server_close()


ALLOW_LOOPBACK = {"DOCKWATCH_WEBHOOK_ALLOW": "127.0.0.1/32"}
"""The receivers run on loopback, which deliveries reach only when the operator allows it."""
