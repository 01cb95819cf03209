"""The outbox and push/pull times, observed through the server's own database file."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from dockwatch.events.eventbridge import event_id
from tests.builders.http_push import push_built_image
from tests.builders.layers import make_image, make_layer
from tests.conformance.oci import DOCKER_V2, push_image
from tests.e2e.test_webhooks import _until
from tests.support.servers import Server, start_dockwatch
from tests.support.webhooks import ALLOW_LOOPBACK, SECRET, Receiver


def _events(server: Server) -> list[tuple[str, dict[str, Any]]]:
    with contextlib.closing(
        sqlite3.connect(f"file:{server.data / 'dockwatch.db'}?mode=ro", uri=True)
    ) as db:
        return [
            (t, json.loads(p))
            for t, p in db.execute("SELECT event_type, payload FROM outbox ORDER BY id")
        ]


def _times(server: Server, name: str, digest: str) -> tuple[str, str, str | None]:
    with contextlib.closing(
        sqlite3.connect(f"file:{server.data / 'dockwatch.db'}?mode=ro", uri=True)
    ) as db:
        row = db.execute(
            "SELECT m.image_pushed_at, m.last_pushed_at, m.last_pulled_at FROM manifests m "
            "JOIN repositories r ON r.id = m.repository_id WHERE r.name = ? AND m.digest = ?",
            (name, digest),
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def _advance(server: Server, seconds: float) -> None:
    with server.client() as c:
        r = c.post("/-/test/clock", json={"advanceSeconds": seconds})
        assert r.status_code == 200


def test_push_repush_tag_and_delete_events(dockwatch: Server) -> None:
    with dockwatch.client() as c:
        digest, manifest = push_image(c, "ev/app", "v1")
        assert _events(dockwatch) == [
            (
                "ManifestPushed",
                {
                    "repositoryName": "ev/app",
                    "imageDigest": digest,
                    "mediaType": DOCKER_V2,
                    "artifactType": None,
                    "subject": None,
                    "imageTags": ["v1"],
                    "firstPush": True,
                    "pushedAt": _events(dockwatch)[0][1]["pushedAt"],
                    "imageTag": "v1",
                },
            ),
            (
                "TagChanged",
                {
                    "repositoryName": "ev/app",
                    "imageTag": "v1",
                    "previousDigest": None,
                    "imageDigest": digest,
                    "withManifest": True,
                },
            ),
        ]
        first_pushed, last_pushed, _ = _times(dockwatch, "ev/app", digest)
        _advance(dockwatch, 3600)
        # a re-push of the same digest is an event too, and moves lastPushedAt only
        assert (
            c.put(
                "/v2/ev/app/manifests/v1", content=manifest, headers={"Content-Type": DOCKER_V2}
            ).status_code
            == 201
        )
        events = _events(dockwatch)
        assert len(events) == 3
        assert events[2][0] == "ManifestPushed" and events[2][1]["firstPush"] is False
        pushed_again, last_again, _ = _times(dockwatch, "ev/app", digest)
        assert pushed_again == first_pushed and last_again > last_pushed
        # a new tag for the same digest
        assert (
            c.put(
                "/v2/ev/app/manifests/stable", content=manifest, headers={"Content-Type": DOCKER_V2}
            ).status_code
            == 201
        )
        assert _events(dockwatch)[-1] == (
            "TagChanged",
            {
                "repositoryName": "ev/app",
                "imageTag": "stable",
                "previousDigest": None,
                "imageDigest": digest,
                "withManifest": True,
            },
        )
        # moving v1 to another image names the previous digest
        other, _ = push_image(c, "ev/app", "v1", seed="other")
        moved = [
            e for e in _events(dockwatch) if e[0] == "TagChanged" and e[1]["imageDigest"] == other
        ]
        assert moved == [
            (
                "TagChanged",
                {
                    "repositoryName": "ev/app",
                    "imageTag": "v1",
                    "previousDigest": digest,
                    "imageDigest": other,
                    "withManifest": True,
                },
            )
        ]
        # deleting the first image removes its remaining tag with it
        assert c.delete(f"/v2/ev/app/manifests/{digest}").status_code == 202
        tail = _events(dockwatch)[-2:]
        assert tail == [
            (
                "ManifestDeleted",
                {"repositoryName": "ev/app", "imageDigest": digest, "imageTags": ["stable"]},
            ),
            (
                "TagChanged",
                {
                    "repositoryName": "ev/app",
                    "imageTag": "stable",
                    "previousDigest": digest,
                    "imageDigest": None,
                    "withManifest": True,
                },
            ),
        ]


def test_failed_push_writes_no_event(dockwatch: Server) -> None:
    with dockwatch.client() as c:
        r = c.put("/v2/ev/bad/manifests/v1", content=b"{}", headers={"Content-Type": DOCKER_V2})
        assert r.status_code == 400
    assert _events(dockwatch) == []


def test_pulls_are_recorded_at_most_once_a_minute(dockwatch: Server) -> None:
    with dockwatch.client() as c:
        digest, _ = push_image(c, "ev/pull", "v1")
        assert _times(dockwatch, "ev/pull", digest)[2] is None
        c.head("/v2/ev/pull/manifests/v1")  # HEAD is not a pull
        assert _times(dockwatch, "ev/pull", digest)[2] is None
        c.get("/v2/ev/pull/manifests/v1")
        first = _times(dockwatch, "ev/pull", digest)[2]
        assert first is not None
        _advance(dockwatch, 30)
        c.get(f"/v2/ev/pull/manifests/{digest}")
        assert _times(dockwatch, "ev/pull", digest)[2] == first
        _advance(dockwatch, 31)
        c.get("/v2/ev/pull/manifests/v1")
        later = _times(dockwatch, "ev/pull", digest)[2]
        assert later is not None and datetime.fromisoformat(later) > datetime.fromisoformat(first)


def test_clock_control_needs_test_mode(tmp_path: Path) -> None:
    """Only a server started in test mode lets a client move its clock."""
    server = start_dockwatch(tmp_path / "prod", test_mode=False)
    try:
        with server.client() as c:
            assert c.post("/-/test/clock", json={"advanceSeconds": 86400}).status_code == 403
    finally:
        server.stop()


def test_no_auth_mode_says_so(tmp_path: Path) -> None:
    """The one test that runs without authentication: it works, and it warns loudly."""
    server = start_dockwatch(tmp_path / "open", auth=False)
    try:
        assert httpx.get(f"{server.url}/v2/").status_code == 200
    finally:
        server.stop()
    assert "WITHOUT AUTHENTICATION" in server.log.read_text()


# --- scanning events, as a subscriber receives them ------------------------------------------------

ACCOUNT, REGION = "000000000000", "us-east-1"  # the server's defaults


def _bodies(server: Server, receiver: Receiver) -> list[dict[str, Any]]:
    """Delivered bodies in the order their events were written (deliveries run concurrently)."""
    with contextlib.closing(
        sqlite3.connect(f"file:{server.data / 'dockwatch.db'}?mode=ro", uri=True)
    ) as db:
        ids = [i for (i,) in db.execute("SELECT id FROM outbox ORDER BY id")]
    order = {event_id(ACCOUNT, REGION, i): i for i in ids}
    delivered = receiver.delivered()
    return [json.loads(delivered[e][0]) for e in sorted(delivered, key=lambda e: order[e])]


def _coverage_of(bodies: list[dict[str, Any]], digest: str) -> list[tuple[str, str]]:
    return [
        (b["detail"]["scanStatus"]["statusCodeValue"], b["detail"]["scanStatus"]["reason"])
        for b in bodies
        if b["detail-type"] == "Inspector2 Coverage" and b["resources"][0].endswith(digest)
    ]


def _scans_of(bodies: list[dict[str, Any]], digest: str) -> list[str]:
    return [
        b["detail"]["scan-status"]
        for b in bodies
        if b["detail-type"] == "Inspector2 Scan" and b["detail"]["image-digest"] == digest
    ]


def test_configuration_coverage_and_scan_events_reach_a_subscriber(tmp_path: Path) -> None:
    server = start_dockwatch(tmp_path / "data", env=ALLOW_LOOPBACK)
    receiver = Receiver()
    meta = "usr/lib/python3/site-packages/alpha-1.0.dist-info/METADATA"
    doc = "Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n"
    first = make_image([make_layer({meta: doc, "a": "1"})])
    second = make_image([make_layer({meta: doc, "b": "2"})])
    repo_arn = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/evs/app"
    try:
        with server.client() as c:
            push_built_image(c, "evs/app", first, ["v1"])  # BASIC, no rule: not scanned
            types = ["CoverageChanged", "ScanFrequencyChanged", "ScanCompleted"]
            r = c.post(
                "/api/v1/webhooks",
                json={"url": receiver.url, "secret": SECRET, "eventTypes": types},
            )
            assert r.status_code == 201, r.text
            r = c.put(
                "/api/v1/registry/scanning-configuration",
                json={"scanType": "ENHANCED", "rules": []},
            )
            assert r.status_code == 200, r.text

            # turning enhanced scanning on moves the repository and scans its image; deliveries
            # run concurrently, so wait for each event the checks read, not only the scan's
            def first_settled() -> bool:
                bodies = _bodies(server, receiver)
                return (
                    bool(_scans_of(bodies, first.digest))
                    and any(b["detail-type"] == "ECR Scan Resource Change" for b in bodies)
                    and ("ACTIVE", "SUCCESSFUL") in _coverage_of(bodies, first.digest)
                )

            _until(first_settled, timeout=120)
            bodies = _bodies(server, receiver)
            [change] = [b for b in bodies if b["detail-type"] == "ECR Scan Resource Change"]
            assert (change["source"], change["resources"]) == ("aws.ecr", [])
            assert change["detail"] == {
                "action-type": "SCAN_FREQUENCY_CHANGE",
                "repositories": [
                    {
                        "repository-name": "evs/app",
                        "repository-arn": repo_arn,
                        "scan-frequency": "CONTINUOUS_SCAN",
                        "previous-scan-frequency": "MANUAL",
                    }
                ],
                "resource-type": "REPOSITORY",
                "scan-type": "ENHANCED",
            }
            # (the worker may also read the earlier push late and scan it once more: a re-scan)
            initial, *later = _scans_of(bodies, first.digest)
            assert initial == "INITIAL_SCAN_COMPLETE" and set(later) <= {"RESCAN_COMPLETE"}
            assert _coverage_of(bodies, first.digest)[-1] == ("ACTIVE", "SUCCESSFUL")
            # a new image: each coverage step, then its initial scan
            push_built_image(c, "evs/app", second, ["v2"])

            def second_settled() -> bool:
                bodies = _bodies(server, receiver)
                scanned = bool(_scans_of(bodies, second.digest))
                return scanned and len(_coverage_of(bodies, second.digest)) >= 3

            _until(second_settled, timeout=120)
            bodies = _bodies(server, receiver)
            assert _coverage_of(bodies, second.digest) == [
                ("ACTIVE", "PENDING_INITIAL_SCAN"),
                ("ACTIVE", "SCAN_IN_PROGRESS"),
                ("ACTIVE", "SUCCESSFUL"),
            ]
            for b in bodies:
                if b["detail-type"] == "Inspector2 Coverage":
                    assert b["source"] == "aws.inspector2"
                    assert b["resources"][0].startswith(repo_arn + "/sha256:")
            # a re-push scans it again: a re-scan, and no coverage change
            push_built_image(c, "evs/app", second, ["v3"])
            _until(lambda: len(_scans_of(_bodies(server, receiver), second.digest)) == 2, 120)
            bodies = _bodies(server, receiver)
            assert _scans_of(bodies, second.digest) == ["INITIAL_SCAN_COMPLETE", "RESCAN_COMPLETE"]
            assert len(_coverage_of(bodies, second.digest)) == 3
            stored = [p for t, p in _events(server) if t == "CoverageChanged"]
            assert len([p for p in stored if p["imageDigest"] == second.digest]) == 3
        assert receiver.bad == []
    finally:
        server.stop()
        receiver.stop()
