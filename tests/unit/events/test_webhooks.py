"""The deliverer over a real SQLite database, with an in-process receiver (httpx MockTransport)
that checks signatures with `hmac` and answers as each test says."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockwatch.clock import ControlledClock
from dockwatch.events import subscriptions
from dockwatch.events.egress import EgressPolicy
from dockwatch.events.secretbox import SecretBox
from dockwatch.events.sender import DeliveryPolicy
from dockwatch.events.webhooks import WebhookDeliverer, backoff
from dockwatch.model.events import AdvisoriesChanged, ManifestPushed
from dockwatch.model.identity import Tenant
from dockwatch.storage import webhook_repo as repo
from dockwatch.storage.sql import tables
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from tests.support.certs import self_signed

TENANT = Tenant("123456789012", "us-east-1")
SECRET = "receiver-secret-0123456789abcdef"
DIGEST = "sha256:" + "ab" * 32
BOX = SecretBox(os.urandom(32))
LOOPBACK = EgressPolicy.parse("127.0.0.1/32")
"""The TLS receiver runs on loopback, which only an allowlist entry lets deliveries reach."""


@dataclass
class Receiver:
    """Records every request; `answer(event_id, n)` picks the status of the n-th try of an id."""

    answer: Callable[[str, int], int] = lambda _id, _n: 200
    secret: str = SECRET
    requests: list[tuple[str, bytes]] = field(default_factory=list)
    tries: dict[str, int] = field(default_factory=dict)
    bad_signatures: int = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        ts = request.headers["X-Dockwatch-Timestamp"]
        mac = hmac.new(self.secret.encode(), ts.encode() + b"." + body, hashlib.sha256)
        if not hmac.compare_digest(
            "sha256=" + mac.hexdigest(), request.headers["X-Dockwatch-Signature"]
        ):
            self.bad_signatures += 1
            return httpx.Response(401)
        event_id = request.headers["X-Dockwatch-Event-Id"]
        assert json.loads(body)["id"] == event_id
        self.tries[event_id] = self.tries.get(event_id, 0) + 1
        self.requests.append((event_id, body))
        return httpx.Response(self.answer(event_id, self.tries[event_id]), text="nope")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqlStore]:
    database = Database(f"sqlite:///{tmp_path / 'd.db'}")
    migrate(database)
    yield SqlStore(database)
    database.close()


def _deliverer(
    db: SqlStore, clock: ControlledClock, receiver: Receiver, **policy: Any
) -> WebhookDeliverer:
    return WebhookDeliverer(
        db,
        clock,
        DeliveryPolicy(**policy),
        box=BOX,
        transport=httpx.MockTransport(receiver.handle),
        rng=random.Random(7),
    )


def _push_event(
    db: SqlStore, clock: ControlledClock, repo_name: str, tenant: Tenant = TENANT
) -> None:
    with db.write() as uow:
        uow.outbox.append(
            ManifestPushed(tenant, clock.now(), repo_name, DIGEST, image_tags=("v1",))
        )


def _hook(db: SqlStore, clock: ControlledClock, **body: Any) -> str:
    doc = subscriptions.create(
        db,
        clock,
        TENANT,
        {"url": "https://hooks.example/in", "secret": SECRET, **body},
        box=BOX,
        egress=LOOPBACK,
    )
    return str(doc["webhookId"])


def _log(db: SqlStore, hook: str) -> list[repo.AttemptRow]:
    with db.read() as uow:
        return uow.webhooks.list_attempts(hook, after_id=0, limit=1000)


# --- backoff ------------------------------------------------------------------------------------


class _Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def test_backoff_doubles_with_jitter_up_to_the_ceiling() -> None:
    policy = DeliveryPolicy(base_delay=timedelta(seconds=5), max_delay=timedelta(minutes=10))
    # steps written out by hand: 5, 10, 20, ... seconds, capped at 600
    steps = [5, 10, 20, 40, 80, 160, 320, 600, 600, 600]
    for attempt, step in enumerate(steps, start=1):
        assert backoff(attempt, policy, _Fixed(0.0)) == timedelta(seconds=step / 2)
        assert backoff(attempt, policy, _Fixed(0.5)) == timedelta(seconds=step * 0.75)
        rng = random.Random(attempt)
        for _ in range(50):
            wait = backoff(attempt, policy, rng)
            assert timedelta(seconds=step / 2) <= wait <= timedelta(seconds=step)
    assert backoff(10_000, policy, _Fixed(0.0)) == timedelta(minutes=5)  # no overflow


# --- fan-out ------------------------------------------------------------------------------------


def test_fan_out_follows_filters_tenants_and_subscription_time(db: SqlStore) -> None:
    clock = ControlledClock()
    _push_event(db, clock, "before")  # happened before any subscription
    everything = _hook(db, clock)
    scans_only = _hook(db, clock, eventTypes=["ScanCompleted"])
    _push_event(db, clock, "after")
    _push_event(db, clock, "elsewhere", Tenant("210987654321", "us-east-1"))
    with db.write() as uow:
        # internal: never delivered
        uow.outbox.append(AdvisoriesChanged(TENANT, clock.now(), 1, "osv"))
    deliverer = _deliverer(db, clock, Receiver())
    assert deliverer.fan_out() == 4
    assert deliverer.fan_out() == 0  # the cursor moved in the same transaction
    log = _log(db, everything)
    assert [(a.event_type, a.attempt, a.status) for a in log] == [("ManifestPushed", 1, "PENDING")]
    assert _log(db, scans_only) == []


# --- delivery -----------------------------------------------------------------------------------


def test_delivered_once_signed_and_shaped(db: SqlStore) -> None:
    clock = ControlledClock()
    hook = _hook(db, clock)
    _push_event(db, clock, "app")
    receiver = Receiver()
    deliverer = _deliverer(db, clock, receiver)
    assert deliverer.drain() == 1
    assert receiver.bad_signatures == 0 and len(receiver.requests) == 1
    envelope = json.loads(receiver.requests[0][1])
    assert envelope["detail-type"] == "ECR Image Action"
    assert envelope["detail"]["repository-name"] == "app"
    [entry] = _log(db, hook)
    assert (entry.status, entry.http_status, entry.error) == ("DELIVERED", 200, None)
    assert entry.duration_ms is not None and entry.duration_ms >= 0
    assert deliverer.drain() == 0  # nothing is sent again


def test_failures_are_retried_after_the_backoff_on_the_injected_clock(db: SqlStore) -> None:
    clock = ControlledClock()
    hook = _hook(db, clock)
    _push_event(db, clock, "app")
    receiver = Receiver(answer=lambda _id, n: 500 if n <= 2 else 204)
    deliverer = _deliverer(db, clock, receiver, base_delay=timedelta(minutes=1))
    assert deliverer.run_once() == 1
    first = _log(db, hook)
    assert [(a.attempt, a.status, a.http_status) for a in first] == [
        (1, "FAILED", 500),
        (2, "PENDING", None),
    ]
    assert first[0].error == "HTTP 500"  # the receiver's body ("nope") is never kept
    assert first[0].attempted_at is not None
    wait = first[1].next_attempt_at - first[0].attempted_at
    assert timedelta(seconds=30) <= wait <= timedelta(seconds=60)
    assert deliverer.run_once() == 0  # not due yet: the clock has not moved
    clock.advance(timedelta(minutes=1))
    assert deliverer.run_once() == 1
    clock.advance(timedelta(minutes=2))
    assert deliverer.run_once() == 1
    log = _log(db, hook)
    assert [(a.attempt, a.status, a.http_status) for a in log] == [
        (1, "FAILED", 500),
        (2, "FAILED", 500),
        (3, "DELIVERED", 204),
    ]
    ids = {event_id for event_id, _ in receiver.requests}
    bodies = {body for _, body in receiver.requests}
    assert len(ids) == 1 and len(bodies) == 1  # every try: the same id, the same bytes


def test_gives_up_after_max_attempts_or_max_age(db: SqlStore) -> None:
    clock = ControlledClock()
    hook = _hook(db, clock)
    _push_event(db, clock, "app")
    deliverer = _deliverer(db, clock, Receiver(answer=lambda _i, _n: 503), max_attempts=3)
    for _ in range(3):
        deliverer.run_once()
        clock.advance(timedelta(hours=1))
    assert [a.status for a in _log(db, hook)] == ["FAILED", "FAILED", "GAVE_UP"]
    assert deliverer.drain() == 0

    aged = _hook(db, clock)
    _push_event(db, clock, "late")
    deliverer = _deliverer(
        db, clock, Receiver(answer=lambda _i, _n: 503), max_age=timedelta(minutes=30)
    )
    deliverer.run_once()
    clock.advance(timedelta(hours=1))
    deliverer.run_once()
    assert [a.status for a in _log(db, aged)] == ["FAILED", "GAVE_UP"]


def test_a_crash_after_sending_resends_the_same_event(db: SqlStore) -> None:
    """Killed between the 2xx and recording it: the next process sends it again, same id and body."""
    clock = ControlledClock()
    hook = _hook(db, clock)
    _push_event(db, clock, "app")
    receiver = Receiver()
    crashing = _deliverer(db, clock, receiver)

    def crash(_due: repo.DueAttempt) -> None:
        raise SystemExit("killed")

    crashing.after_send = crash
    with pytest.raises(SystemExit):
        crashing.run_once()
    assert [a.status for a in _log(db, hook)] == ["PENDING"]  # leased, not recorded
    restarted = _deliverer(db, clock, receiver)
    assert restarted.run_once() == 0  # the lease of the dead sender still holds ...
    assert restarted.recover() == 1  # ... until start-up releases it
    assert restarted.run_once() == 1
    assert [a.status for a in _log(db, hook)] == ["DELIVERED"]
    assert len(receiver.requests) == 2
    assert receiver.requests[0] == receiver.requests[1]


def test_connection_errors_and_redirects_are_failures(db: SqlStore) -> None:
    clock = ControlledClock()
    hook = _hook(db, clock)
    _push_event(db, clock, "app")

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    deliverer = WebhookDeliverer(db, clock, box=BOX, transport=httpx.MockTransport(refuse))
    deliverer.run_once()
    failed = _log(db, hook)[0]
    assert failed.status == "FAILED" and failed.http_status is None
    assert failed.error == "delivery failed: could not connect"

    clock.advance(timedelta(hours=1))
    moved = WebhookDeliverer(
        db,
        clock,
        box=BOX,
        transport=httpx.MockTransport(
            lambda r: httpx.Response(302, headers={"Location": "https://elsewhere.example/"})
        ),
    )
    moved.run_once()
    assert [(a.status, a.http_status) for a in _log(db, hook)][1] == ("FAILED", 302)


def test_unrenderable_events_give_up_without_stopping_others(db: SqlStore) -> None:
    clock = ControlledClock()
    hook = _hook(db, clock)
    with db.write() as uow:  # a damaged row: the typed outbox cannot write one
        uow.conn.execute(
            tables.outbox.insert().values(
                account_id=TENANT.account_id,
                region=TENANT.region,
                event_type="ScanCompleted",
                subject="broken",
                payload=json.dumps({"imageDigest": DIGEST}),  # no repositoryName
                created_at=clock.now(),
            )
        )
    _push_event(db, clock, "fine")
    receiver = Receiver()
    _deliverer(db, clock, receiver).drain()
    log = _log(db, hook)
    assert [a.status for a in log] == ["GAVE_UP", "DELIVERED"]
    assert log[0].error is not None and "repositoryName" in log[0].error
    assert len(receiver.requests) == 1


def test_a_test_ping_reaches_only_its_subscription(db: SqlStore) -> None:
    clock = ControlledClock()
    pinged = _hook(db, clock)
    other = _hook(db, clock)
    answer = subscriptions.send_test(db, clock, TENANT, pinged)
    receiver = Receiver()
    _deliverer(db, clock, receiver).drain()
    assert [event_id for event_id, _ in receiver.requests] == [answer["eventId"]]
    assert json.loads(receiver.requests[0][1])["detail"]["webhookId"] == pinged
    assert _log(db, other) == []


def test_deleting_a_subscription_drops_its_pending_attempts(db: SqlStore) -> None:
    clock = ControlledClock()
    hook = _hook(db, clock)
    _push_event(db, clock, "app")
    receiver = Receiver()
    deliverer = _deliverer(db, clock, receiver)
    deliverer.fan_out()
    subscriptions.remove(db, TENANT, hook)
    assert deliverer.drain() == 0 and receiver.requests == []


# --- TLS ----------------------------------------------------------------------------------------


@pytest.fixture
def https_receiver(tmp_path: Path) -> Iterator[str]:
    """An HTTPS endpoint on 127.0.0.1 with a self-signed certificate; yields its URL."""
    cert, key = self_signed(tmp_path)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_certificates_are_verified_unless_the_subscription_says_not_to(
    db: SqlStore, https_receiver: str
) -> None:
    clock = ControlledClock()
    strict = _hook(db, clock, url=https_receiver)
    lax = _hook(db, clock, url=https_receiver, insecureSkipVerify=True)
    _push_event(db, clock, "app")
    deliverer = WebhookDeliverer(db, clock, box=BOX, egress=LOOPBACK)
    try:
        deliverer.run_once()
    finally:
        deliverer.stop()
    [refused] = [a for a in _log(db, strict) if a.attempt == 1]
    assert refused.status == "FAILED" and refused.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in refused.error
    assert [(a.status, a.http_status) for a in _log(db, lax)] == [("DELIVERED", 204)]


def test_a_stalled_endpoint_does_not_hold_the_others(db: SqlStore) -> None:
    clock = ControlledClock()
    stalled = _hook(db, clock, url="https://stalled.example/in")
    healthy = _hook(db, clock, url="https://healthy.example/in")
    _push_event(db, clock, "app")
    release = threading.Event()

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == "stalled.example":
            release.wait(30)
        return httpx.Response(200)

    deliverer = WebhookDeliverer(db, clock, box=BOX, transport=httpx.MockTransport(handle))
    try:
        assert deliverer.run_once(wait=False) == 2
        for _ in range(3000):  # the healthy delivery completes while the other one hangs
            if [a.status for a in _log(db, healthy)] == ["DELIVERED"]:
                break
            release.wait(0.01)
        assert [a.status for a in _log(db, healthy)] == ["DELIVERED"]
        assert [a.status for a in _log(db, stalled)] == ["PENDING"]
        clock.advance(timedelta(minutes=5))  # past its lease, but still being sent here
        assert deliverer.run_once(wait=False) == 0  # so not claimed (and sent) a second time
    finally:
        release.set()
        deliverer.stop()
    assert [a.status for a in _log(db, stalled)] == ["DELIVERED"]


def test_a_name_that_now_resolves_to_loopback_is_refused_at_delivery(db: SqlStore) -> None:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    clock = ControlledClock()
    # accepted while the operator allowed loopback; `localhost` resolves to 127.0.0.1
    hook = _hook(db, clock, url=f"http://localhost:{server.server_address[1]}/hook")
    _push_event(db, clock, "app")
    deliverer = WebhookDeliverer(db, clock, box=BOX)  # the default policy: no allowlist
    try:
        deliverer.run_once()
    finally:
        deliverer.stop()
        server.shutdown()
        server.server_close()
    [refused] = _log(db, hook)[:1]
    assert refused.status == "FAILED" and refused.http_status is None
    assert refused.error is not None and refused.error.startswith("delivery refused")
    assert hits == []


def test_plaintext_secrets_from_before_sealing_are_sealed_at_start(db: SqlStore) -> None:
    clock = ControlledClock()
    hook = _hook(db, clock)
    with db.write() as uow:  # as a database written before secrets were sealed holds it
        uow.webhooks.set_secret(hook, SECRET)
    _push_event(db, clock, "app")
    receiver = Receiver()
    deliverer = _deliverer(db, clock, receiver)
    assert deliverer.seal_plaintext_secrets() == 1
    assert deliverer.seal_plaintext_secrets() == 0
    with db.read() as uow:
        [row] = uow.webhooks.list_webhooks(TENANT)
    assert row.secret.startswith("aesgcm:v1:") and SECRET not in row.secret
    assert deliverer.drain() == 1
    assert receiver.bad_signatures == 0 and len(receiver.requests) == 1  # signed with SECRET
