"""The audit log through the real app: which requests are recorded, with which principal,
source address, action, resource and outcome; that no secret reaches it; GET /api/v1/audit;
the retention pass of the scan worker."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockwatch.api.app import create_app
from dockwatch.app import Services
from dockwatch.audit.log import AuditLog, cli_entry
from dockwatch.clock import ControlledClock

from .conftest import USER, client_for, make_services

pytestmark = pytest.mark.anyio


async def _events(api: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    """The HTTP user's entries (the start-up user's creation is recorded too, by the OS user)."""
    params.setdefault("principal", USER)
    r = await api.get("/api/v1/audit", params=params)
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = r.json()["auditEvents"]
    return events


async def test_a_configuration_change_is_recorded_with_who_where_and_what(
    services: Services,
) -> None:
    async with client_for(create_app(services), "198.51.100.9") as api:
        started = services.clock.now()
        r = await api.put(
            "/api/v1/configuration", json={"ecrConfiguration": {"rescanDuration": "DAYS_30"}}
        )
        assert r.status_code == 200, r.text
        finished = services.clock.now()
        events = await _events(api)
    assert len(events) == 1
    e = events[0]
    assert e["principal"] == USER
    assert e["sourceAddress"] == "198.51.100.9"
    assert e["action"] == "PUT /api/v1/configuration"
    assert e["resource"] == "/api/v1/configuration"
    assert (e["status"], e["outcome"], e["errorCode"]) == (200, "SUCCEEDED", None)
    assert started <= datetime.fromisoformat(e["eventTime"]) <= finished


async def test_refusals_are_recorded_with_their_error_type(api: httpx.AsyncClient) -> None:
    r = await api.put(
        "/api/v1/configuration", json={"ecrConfiguration": {"rescanDuration": "DAYS_2"}}
    )
    assert r.status_code == 400
    r = await api.put("/api/v1/repositories/nope/scanning-configuration", json={"scanOnPush": True})
    assert r.status_code == 404
    r = await api.delete("/v2/nope/manifests/sha256:" + "0" * 64)
    assert r.status_code == 404
    oci_code = r.json()["errors"][0]["code"]  # what the client was told
    assert oci_code in ("NAME_UNKNOWN", "MANIFEST_UNKNOWN")
    got = [(e["action"], e["status"], e["outcome"], e["errorCode"]) for e in await _events(api)]
    assert got == [
        ("DELETE /v2/{name}/manifests/{reference}", 404, "DENIED", oci_code),
        (
            "PUT /api/v1/repositories/{name}/scanning-configuration",
            404,
            "DENIED",
            "RepositoryNotFoundException",
        ),
        ("PUT /api/v1/configuration", 400, "DENIED", "ValidationException"),
    ]


async def test_reads_and_read_only_queries_are_not_recorded(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/v1/configuration")).status_code == 200
    assert (await api.get("/api/v1/repositories")).status_code == 200
    assert (await api.post("/api/v1/findings/list", json={})).status_code == 200
    assert (
        await api.post("/api/v1/findings/aggregations/list", json={"aggregationType": "REPOSITORY"})
    ).status_code == 200
    assert (await api.get("/v2/")).status_code == 200
    assert await _events(api) == []


async def test_unauthenticated_and_wrong_password_requests_are_not_recorded(
    services: Services,
) -> None:
    app = create_app(services)
    body = {"ecrConfiguration": {"rescanDuration": "DAYS_30"}}
    async with client_for(app, auth=None) as anon:
        assert (await anon.put("/api/v1/configuration", json=body)).status_code == 401
    async with client_for(app, auth=(USER, "wrong")) as wrong:
        assert (await wrong.put("/api/v1/configuration", json=body)).status_code == 401
    async with client_for(app) as api:
        assert await _events(api) == []


async def test_webhook_secret_never_reaches_the_log(tmp_path: Path) -> None:
    services = make_services(tmp_path, webhook_allow="127.0.0.1")
    secret = "hunter2-webhook-secret-" + hashlib.sha256(b"x").hexdigest()[:12]
    try:
        async with client_for(create_app(services)) as api:
            r = await api.post(
                "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "secret": secret}
            )
            assert r.status_code == 201, r.text
            hook = r.json()["webhookId"]
            bad = await api.post("/api/v1/webhooks", json={"url": "ftp://x", "secret": secret})
            assert bad.status_code == 400
            assert (await api.delete(f"/api/v1/webhooks/{hook}")).status_code == 200
            events = await _events(api)
    finally:
        services.close()
    assert [(e["action"], e["status"]) for e in events] == [
        ("DELETE /api/v1/webhooks/{id}", 200),
        ("POST /api/v1/webhooks", 400),
        ("POST /api/v1/webhooks", 201),
    ]
    assert events[0]["resource"] == f"/api/v1/webhooks/{hook}"
    with sqlite3.connect(services.settings.data_dir / "dockwatch.db") as db:
        rows = db.execute("SELECT * FROM audit_log").fetchall()
    assert len(rows) == 4  # and the start-up user's creation
    assert secret not in json.dumps(rows) and secret not in json.dumps(events)


async def test_v2_deletes_and_manifest_pushes_are_recorded_uploads_are_not(
    api: httpx.AsyncClient,
) -> None:
    config, layer = b'{"architecture":"amd64","os":"linux"}', b"layer bytes" * 10
    digests = []
    for blob in (config, layer):
        d = "sha256:" + hashlib.sha256(blob).hexdigest()
        r = await api.post(f"/v2/audit/app/blobs/uploads/?digest={d}", content=blob)
        assert r.status_code == 201, r.text
        digests.append((d, len(blob)))
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digests[0][0],
                "size": digests[0][1],
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": digests[1][0],
                    "size": digests[1][1],
                }
            ],
        }
    ).encode()
    r = await api.put(
        "/v2/audit/app/manifests/v1",
        content=manifest,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert r.status_code == 201, r.text
    assert (await api.delete("/v2/audit/app/manifests/v1")).status_code == 202
    got = [(e["action"], e["resource"], e["status"]) for e in await _events(api)]
    assert got == [
        ("DELETE /v2/{name}/manifests/{reference}", "/v2/audit/app/manifests/v1", 202),
        ("PUT /v2/{name}/manifests/{reference}", "/v2/audit/app/manifests/v1", 201),
    ]
    by_resource = await _events(api, resource="/v2/audit/")
    assert len(by_resource) == 2
    assert await _events(api, action="PUT /v2/{name}/manifests/{reference}", principal=USER)


async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    services = make_services(tmp_path, audit_trusted_proxies="10.9.0.0/16")
    body = {"ecrConfiguration": {"rescanDuration": "DAYS_30"}}
    forged = {"X-Forwarded-For": "203.0.113.5, 10.9.0.2"}
    try:
        app = create_app(services)
        async with client_for(app, "10.9.0.1") as via_proxy:
            assert (
                await via_proxy.put("/api/v1/configuration", json=body, headers=forged)
            ).status_code == 200
        async with client_for(app, "192.0.2.44") as direct:
            assert (
                await direct.put("/api/v1/configuration", json=body, headers=forged)
            ).status_code == 200
            events = await _events(direct)
    finally:
        services.close()
    assert [e["sourceAddress"] for e in events] == ["192.0.2.44", "203.0.113.5"]


async def test_without_trusted_proxies_forwarded_for_is_ignored(services: Services) -> None:
    async with client_for(create_app(services), "192.0.2.1") as api:
        r = await api.put(
            "/api/v1/configuration",
            json={"ecrConfiguration": {"rescanDuration": "DAYS_30"}},
            headers={"X-Forwarded-For": "203.0.113.5"},
        )
        assert r.status_code == 200
        assert [e["sourceAddress"] for e in await _events(api)] == ["192.0.2.1"]


async def test_listing_pages_and_validates(api: httpx.AsyncClient) -> None:
    for duration in ("DAYS_3", "DAYS_7", "DAYS_14", "DAYS_30", "DAYS_60"):
        body = {"ecrConfiguration": {"rescanDuration": duration}}
        assert (await api.put("/api/v1/configuration", json=body)).status_code == 200
    ids: list[str] = []
    params: dict[str, str] = {"maxResults": "2", "principal": USER}
    while True:
        r = await api.get("/api/v1/audit", params=params)
        assert r.status_code == 200
        ids += [e["eventId"] for e in r.json()["auditEvents"]]
        if "nextToken" not in r.json():
            break
        params = {"maxResults": "2", "principal": USER, "nextToken": r.json()["nextToken"]}
    assert len(ids) == 5 and len(set(ids)) == 5
    assert ids == sorted(ids, key=int, reverse=True)
    r = await api.get("/api/v1/audit", params={"since": "last week"})
    assert r.status_code == 400 and r.json()["__type"] == "ValidationException"


async def test_the_worker_purges_entries_past_the_retention(tmp_path: Path) -> None:
    services = make_services(tmp_path, audit_retention_days=30)
    clock = services.clock
    assert isinstance(clock, ControlledClock)
    log = AuditLog(services.store, services.tenant, clock)
    try:
        now = clock.now()
        log.record(cli_entry("gc", "blobs", 200, now - timedelta(days=31)))
        log.record(cli_entry("gc", "blobs", 200, now - timedelta(days=29)))
        services.worker.periodic()
        left = [now - r.entry.at for r in log.list({"action": "cli gc"}).rows]
        assert left == [timedelta(days=29)]
        clock.advance(timedelta(days=2))
        services.worker.periodic()
        assert log.list({"action": "cli gc"}).rows == []
    finally:
        services.close()


def test_a_bad_trusted_proxy_setting_is_a_config_error() -> None:
    from dockwatch.config import Settings

    errors = Settings(audit_trusted_proxies="10.0.0.0/8, proxy.example").validate()
    assert errors == ["audit_trusted_proxies: not an address or CIDR: 'proxy.example'"]
    assert "audit_retention_days must be positive" in Settings(audit_retention_days=0).validate()


async def test_the_start_up_user_and_its_password_changes_are_recorded(tmp_path: Path) -> None:
    import getpass
    from datetime import UTC

    from dockwatch.api.auth import bootstrap_user

    services = make_services(tmp_path)  # creates USER
    try:
        at = datetime.now(UTC)
        bootstrap_user(services.store, services.tenant, USER, "new-pass", at)
        bootstrap_user(services.store, services.tenant, USER, "new-pass", at)  # no change
        rows = AuditLog(services.store, services.tenant, services.clock).list({}).rows
    finally:
        services.close()
    got = [(r.entry.action, r.entry.resource, r.entry.principal) for r in rows]
    assert got == [
        ("cli serve: set password", f"user/{USER}", getpass.getuser()),
        ("cli serve: add user", f"user/{USER}", getpass.getuser()),
    ]
    assert "new-pass" not in repr(rows)


async def test_an_entry_is_stored_before_its_answer_ends(services: Services) -> None:
    """A client that sends its next change once the last one is answered finds them logged in
    that order: each entry is stored before the last part of its response goes out."""
    app = create_app(services)
    log = AuditLog(services.store, services.tenant, services.clock)
    stored_at_end: list[list[str]] = []

    async def spying(scope: Any, receive: Any, send: Any) -> None:
        async def spy(message: Any) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                if scope["method"] == "PUT":
                    page = log.list({"principal": USER})
                    stored_at_end.append([e.entry.resource for e in page.rows])
            await send(message)

        await app(scope, receive, spy)

    body = {"ecrConfiguration": {"rescanDuration": "DAYS_30"}}
    async with client_for(spying) as api:
        for _ in range(2):
            assert (await api.put("/api/v1/configuration", json=body)).status_code == 200
    assert stored_at_end == [["/api/v1/configuration"], ["/api/v1/configuration"] * 2]
