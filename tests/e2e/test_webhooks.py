"""Webhooks against the real server: a receiver on 127.0.0.1 checks every signature with `hmac`
and records what arrives; the server is pushed to, has its clock moved, and is killed."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockwatch.events.eventbridge import event_id
from tests.builders.http_push import push_built_image
from tests.builders.layers import make_image, make_layer
from tests.conformance.oci import push_image
from tests.support.cli import db_import
from tests.support.servers import Server, start_dockwatch
from tests.support.webhooks import (
    ACCOUNT,
    ALLOW_LOOPBACK,
    DETAIL_TYPES,
    REGION,
    SECRET,
    Receiver,
)


@pytest.fixture
def dockwatch(tmp_path: Path) -> Iterator[Server]:
    """A fresh server whose webhooks may reach receivers on 127.0.0.1."""
    server = start_dockwatch(tmp_path / "data", env=ALLOW_LOOPBACK)
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def _subscribe(c: httpx.Client, url: str, **extra: Any) -> dict[str, Any]:
    r = c.post("/api/v1/webhooks", json={"url": url, "secret": SECRET, **extra})
    assert r.status_code == 201, r.text
    doc: dict[str, Any] = r.json()
    return doc


def _until(
    check: Callable[[], Any], timeout: float = 60, tick: Callable[[], None] | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        if tick is not None:
            tick()
        time.sleep(0.1)


def _advance(server: Server, seconds: float) -> None:
    with server.client(timeout=10) as c:
        assert c.post("/-/test/clock", json={"advanceSeconds": seconds}).status_code == 200


def _outbox(data: Path) -> list[tuple[int, str, dict[str, Any]]]:
    with contextlib.closing(
        sqlite3.connect(f"file:{data / 'dockwatch.db'}?mode=ro", uri=True)
    ) as db:
        return [
            (i, t, json.loads(p))
            for i, t, p in db.execute("SELECT id, event_type, payload FROM outbox ORDER BY id")
        ]


def _check_body(event_type: str, payload: dict[str, Any], envelope: dict[str, Any]) -> None:
    """The body delivered under an outbox row's id describes that row."""
    assert envelope["version"] == "0"
    assert envelope["account"] == ACCOUNT and envelope["region"] == REGION
    assert envelope["detail-type"] == DETAIL_TYPES[event_type], (event_type, envelope)
    detail = envelope["detail"]
    if envelope["source"] == "aws.ecr":
        assert detail["repository-name"] == payload["repositoryName"]
        assert detail["image-digest"] in (payload.get("imageDigest"), payload.get("previousDigest"))
    elif event_type == "ScanCompleted":
        assert detail["repository-name"].endswith(f":repository/{payload['repositoryName']}")
        assert detail["image-digest"] == payload["imageDigest"]
    elif event_type == "CoverageChanged":
        assert envelope["resources"][0].endswith(payload["imageDigest"])
    else:  # the outbox keeps a snapshot of the finding row; the body is the full finding
        assert detail["findingArn"] == (
            f"arn:aws:inspector2:{REGION}:{ACCOUNT}:finding/{payload['findingId']}"
        )
        assert (detail["status"], detail["severity"]) == (payload["status"], payload["severity"])
        vulnerability = detail["packageVulnerabilityDetails"]["vulnerabilityId"]
        assert vulnerability == payload["vulnerabilityId"]
        assert "evidence" not in detail


def _deliverable(data: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """Expected event id -> (type, payload) for every deliverable outbox row (a tag change
    that its push's or delete's event reports is not sent on its own, as on ECR)."""
    return {
        event_id(ACCOUNT, REGION, i): (t, p)
        for i, t, p in _outbox(data)
        if t in DETAIL_TYPES and not p.get("withManifest")
    }


# --- (a) a push is delivered, signed --------------------------------------------------------------


def test_push_events_are_delivered_signed(dockwatch: Server, receiver: Receiver) -> None:
    with dockwatch.client() as c:
        hook = _subscribe(c, receiver.url, description="ci")
        assert hook["secret"] == SECRET
        listed = c.get("/api/v1/webhooks").json()["webhooks"]
        assert [w["webhookId"] for w in listed] == [hook["webhookId"]]
        assert "secret" not in listed[0] and listed[0]["eventTypes"] is None
        digest, _ = push_image(c, "wh/app", "v1")
        expected = _until(
            lambda: len(_deliverable(dockwatch.data)) >= 1 and _deliverable(dockwatch.data)
        )
        delivered = _until(
            lambda: set(expected) <= set(receiver.delivered()) and receiver.delivered()
        )
        assert receiver.bad == []
        for eid, (event_type, payload) in expected.items():
            envelope = json.loads(delivered[eid][0])
            _check_body(event_type, payload, envelope)
        pushes = [
            json.loads(delivered[eid][0])["detail"]
            for eid, (t, _) in expected.items()
            if t == "ManifestPushed"
        ]
        assert pushes == [
            {
                "result": "SUCCESS",
                "repository-name": "wh/app",
                "image-digest": digest,
                "action-type": "PUSH",
                "image-tag": "v1",
                "manifest-media-type": "application/vnd.docker.distribution.manifest.v2+json",
            }
        ]
        # a test ping reaches the endpoint with the id the API answered
        ping = c.post(f"/api/v1/webhooks/{hook['webhookId']}/test")
        assert ping.status_code == 202
        ping_id = ping.json()["eventId"]
        body = _until(lambda: receiver.delivered().get(ping_id))
        assert json.loads(body[0])["detail-type"] == "Dockwatch Webhook Test"
        # deleting the subscription stops deliveries: a later push reaches another subscription
        # (fan-out is one transaction per batch), and nothing was scheduled for the deleted one
        assert c.delete(f"/api/v1/webhooks/{hook['webhookId']}").status_code == 200
        assert c.get(f"/api/v1/webhooks/{hook['webhookId']}").status_code == 404
        witness = Receiver()
        try:
            _subscribe(c, witness.url, eventTypes=["ManifestPushed"])
            push_image(c, "wh/app", "v2", seed="later")
            _until(lambda: witness.delivered())
        finally:
            witness.stop()
        with contextlib.closing(
            sqlite3.connect(f"file:{dockwatch.data / 'dockwatch.db'}?mode=ro", uri=True)
        ) as db:
            left = db.execute(
                "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ?", (hook["webhookId"],)
            ).fetchone()[0]
        assert left == 0
        assert set(receiver.delivered()) == set(expected) | {ping_id}


# --- (c) invalid input ------------------------------------------------------------------------------


def test_invalid_subscriptions_get_clear_400s(dockwatch: Server) -> None:
    cases = [
        ({"url": "ftp://127.0.0.1/x"}, "http or https"),
        ({"url": "not a url"}, "url"),
        ({}, "url is required"),
        ({"url": "https://h.example/", "eventTypes": ["Pushed"]}, "unknown event type"),
        ({"url": "https://h.example/", "secret": "short"}, "secret"),
        ({"url": "https://h.example/", "insecureSkipVerify": "no"}, "insecureSkipVerify"),
        ({"url": "https://h.example/", "events": ["ScanCompleted"]}, "unknown field"),
    ]
    with dockwatch.client() as c:
        for body, message in cases:
            r = c.post("/api/v1/webhooks", json=body)
            assert r.status_code == 400, (body, r.text)
            assert r.json()["__type"] == "ValidationException"
            assert message in r.json()["message"], (body, r.json())
        r = c.post(
            "/api/v1/webhooks", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 400 and "not valid JSON" in r.json()["message"]
        hook = c.post("/api/v1/webhooks", json={"url": "https://h.example/"}).json()
        assert len(hook["secret"]) >= 32  # generated and shown once
        for bad in ({"nextToken": "garbage"}, {"maxResults": "0"}, {"status": "DONE"}):
            r = c.get(f"/api/v1/webhooks/{hook['webhookId']}/deliveries", params=bad)
            assert r.status_code == 400 and r.json()["__type"] == "ValidationException", r.text
        missing = c.get("/api/v1/webhooks/no-such-hook/deliveries")
        assert (
            missing.status_code == 404 and missing.json()["__type"] == "ResourceNotFoundException"
        )
        assert c.delete("/api/v1/webhooks/no-such-hook").status_code == 404
        assert c.post("/api/v1/webhooks/no-such-hook/test").status_code == 404


# --- (d) the delivery log ---------------------------------------------------------------------------


def test_delivery_log_shows_failures_then_success(dockwatch: Server) -> None:
    flaky = Receiver(fail_first=2)
    try:
        with dockwatch.client() as c:
            hook = _subscribe(c, flaky.url, eventTypes=["ManifestPushed"])
            push_image(c, "wh/log", "v1")
            [(eid, _)] = _until(lambda: list(_deliverable_of(dockwatch, "ManifestPushed").items()))
            _until(lambda: eid in flaky.delivered(), tick=lambda: _advance(dockwatch, 60))

            def log() -> list[dict[str, Any]]:
                url = f"/api/v1/webhooks/{hook['webhookId']}/deliveries"
                return list(c.get(url).json()["deliveries"])

            # the receiver answered; the server records the result just after
            entries = _until(lambda: [e for e in log() if e["status"] == "DELIVERED"] and log())
        mine = [e for e in entries if e["eventId"] == eid]
        assert [(e["attempt"], e["status"], e["httpStatus"]) for e in mine] == [
            (1, "FAILED", 500),
            (2, "FAILED", 500),
            (3, "DELIVERED", 200),
        ]
        assert all(e["eventType"] == "ManifestPushed" for e in mine)
        assert mine[0]["error"].startswith("HTTP 500") and mine[2]["error"] is None
        assert all(e["durationMs"] is not None for e in mine)
        assert mine[0]["attemptedAt"] < mine[1]["attemptedAt"] < mine[2]["attemptedAt"]
        assert flaky.bad == []
        assert len(flaky.all_bodies()[eid]) == 1  # three tries, one body
    finally:
        flaky.stop()


def _deliverable_of(server: Server, event_type: str) -> dict[str, tuple[str, dict[str, Any]]]:
    return {k: v for k, v in _deliverable(server.data).items() if v[0] == event_type}


# --- (b) must hold: SIGKILL while events flow --------------------------------------------------------


@pytest.mark.slow
def test_every_event_arrives_across_a_sigkill(tmp_path: Path) -> None:
    rng = random.Random(20261207)
    data = tmp_path / "data"
    server = start_dockwatch(data, env=ALLOW_LOOPBACK)
    # answers 500 twice per event, then holds each 200 a little, so the kill can land after
    # the receiver took an event but before the server recorded it (a duplicate must follow)
    # a delivery the kill cuts mid-body reaches the receiver short: left unanswered, as the
    # dead sender's, and retried after the restart
    flaky = Receiver(fail_first=2, slow=0.1, sender_may_die=True)
    stop_ticking = threading.Event()
    pushed: list[str] = []
    lock = threading.Lock()

    interrupted: list[int] = []

    def pusher(i: int) -> None:
        # push until the kill interrupts a push in flight
        for n in range(1000):
            try:
                with server.client(timeout=20) as c:
                    push_image(c, f"kill/img{i}", f"t{n}", seed=f"s{i}-{n}")
            except Exception:  # noqa: BLE001 - the kill interrupts pushes in flight
                with lock:
                    interrupted.append(i)
                return
            with lock:
                pushed.append(f"{i}-{n}")

    def ticker() -> None:
        # keep retries due while pushes run: deliveries fail twice before they succeed
        while not stop_ticking.is_set():
            with contextlib.suppress(Exception):
                _advance(server, 30)
            time.sleep(0.05)

    try:
        with server.client() as c:
            _subscribe(c, flaky.url)
        threads = [threading.Thread(target=pusher, args=(i,)) for i in range(6)]
        threads.append(threading.Thread(target=ticker))
        for t in threads:
            t.start()
        # kill once events are flowing (some delivered, some retried, pushes in flight), at a
        # random moment when the receiver holds a 2xx it took but the server has not recorded
        _until(lambda: len(flaky.delivered()) >= rng.randint(3, 12) and len(pushed) >= 8, 120)
        deadline = time.monotonic() + 60
        while flaky.holding == 0 and time.monotonic() < deadline:
            time.sleep(0.002)
        assert flaky.holding > 0
        before_kill = flaky.delivered()
        server.stop(signal.SIGKILL)
        # no duplicate without a crash
        assert all(len(bodies) == 1 for bodies in before_kill.values())
        stop_ticking.set()
        for t in threads:
            t.join()
        at_kill = len(pushed)
        assert interrupted, "the kill should land while pushes are running"
        retrying = [i for i, bodies in flaky.all_bodies().items() if i not in flaky.delivered()]
        print(f"at the kill: {len(flaky.delivered())} delivered, {len(retrying)} being retried")

        server = start_dockwatch(data, port=server.port, env=ALLOW_LOOPBACK)
        with server.client() as c:
            push_image(c, "kill/after", "v1", seed="after-restart")
        expected = _deliverable(data)
        _until(
            lambda: set(expected) <= set(flaky.delivered()),
            timeout=180,
            tick=lambda: _advance(server, 60),
        )
        delivered = flaky.delivered()
        assert flaky.bad == []
        # a delivery the kill cut short was sent again, whole
        assert {c.rsplit(" ", 1)[1] for c in flaky.cut} <= set(delivered)
        # every outbox event arrived at least once; nothing else arrived
        assert set(expected) <= set(delivered)
        assert set(flaky.all_bodies()) <= set(expected)
        # a duplicate carries the same id and the same bytes as the first delivery
        for eid, bodies in flaky.all_bodies().items():
            assert len(bodies) == 1, eid
            envelope = json.loads(next(iter(bodies)))
            assert envelope["id"] == eid
            _check_body(*expected[eid], envelope)
        duplicates = sum(len(b) - 1 for b in delivered.values())
        assert duplicates >= 1  # the 2xx in flight at the kill was not recorded: sent again
        print(
            f"events: {len(expected)}, pushes before the kill: {at_kill}, "
            f"duplicate deliveries (after the crash only): {duplicates}"
        )
        with server.client() as c:
            hooks = c.get("/api/v1/webhooks").json()["webhooks"]
            log = c.get(
                f"/api/v1/webhooks/{hooks[0]['webhookId']}/deliveries",
                params={"status": "GAVE_UP"},
            ).json()
        assert log["deliveries"] == []
    finally:
        stop_ticking.set()
        server.stop()
        flaky.stop()


# --- (e) scan events are Inspector-shaped ------------------------------------------------------------


def test_scan_events_are_inspector_shaped(
    dockwatch: Server, receiver: Receiver, tmp_path: Path
) -> None:
    folder = tmp_path / "advisories"
    folder.mkdir()
    (folder / "PYSEC-9-1.json").write_text(
        json.dumps(
            {
                "id": "PYSEC-9-1",
                "modified": "2026-11-01T00:00:00Z",
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "alpha"},
                        "ranges": [
                            {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}
                        ],
                    }
                ],
            }
        )
    )
    db_import(dockwatch.data, folder)
    meta = "Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n"
    image = make_image(
        [make_layer({"usr/lib/python3/site-packages/alpha-1.0.dist-info/METADATA": meta})]
    )
    with dockwatch.client() as c:
        _subscribe(c, receiver.url, eventTypes=["ScanCompleted", "FindingCreated"])
        r = c.put(
            "/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED", "rules": []}
        )
        assert r.status_code == 200, r.text
        push_built_image(c, "wh/scan", image, ["v1"])
    scans = _until(lambda: _deliverable_of(dockwatch, "ScanCompleted"), timeout=120)
    wanted = {
        k: v
        for k, v in _deliverable(dockwatch.data).items()
        if v[0] in ("ScanCompleted", "FindingCreated")
    }
    delivered = _until(lambda: set(wanted) <= set(receiver.delivered()) and receiver.delivered())
    for eid, (event_type, payload) in wanted.items():
        _check_body(event_type, payload, json.loads(delivered[eid][0]))
    [scan] = [json.loads(delivered[eid][0]) for eid in scans]
    detail = scan["detail"]
    assert detail["scan-status"] == "INITIAL_SCAN_COMPLETE"
    assert detail["repository-name"] == f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/wh/scan"
    assert scan["resources"] == [detail["repository-name"]]
    assert detail["image-digest"] == image.digest
    # the one advisory has no severity of its own; whatever it maps to, it is counted once
    counts = detail["finding-severity-counts"]
    assert counts["TOTAL"] == 1 and sum(v for k, v in counts.items() if k != "TOTAL") == 1
