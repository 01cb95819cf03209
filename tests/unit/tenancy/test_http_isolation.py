"""/api/v1 and /v2 seen by two accounts of one in-process app (real data folder, httpx's ASGI
transport): each account's listings, webhooks and audit log hold only its own data, and a
user of another account logs in as `<account id>/<name>`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockwatch.api.app import create_app
from dockwatch.api.auth import bootstrap_user
from dockwatch.app import Services, build
from dockwatch.config import Settings
from dockwatch.model.identity import Tenant
from tests.builders.layers import make_image, make_layer
from tests.builders.push import push_image

B = Tenant("222222222222", "us-east-1")
A_AUTH = ("alice", "alice-password-1")
B_AUTH = ("222222222222/bob", "bob-password-1")

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[Services, object]]:
    services = build(Settings(data_dir=tmp_path / "d", test_mode=True, webhook_allow="10.0.0.0/8"))
    now = datetime.now(UTC)
    bootstrap_user(services.store, services.tenant, *A_AUTH, now)
    bootstrap_user(services.store, B, "bob", B_AUTH[1], now)
    push_image(services, "a-repo", make_image([make_layer({"a": "1"})]))
    push_image(services.for_tenant(B), "b-repo", make_image([make_layer({"b": "1"})]))
    yield services, create_app(services)
    services.close()


def _client(app: Any, auth: tuple[str, str]) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("10.9.9.9", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://dockwatch", auth=auth)


async def test_each_account_lists_only_its_own_data(app: tuple[Services, object]) -> None:
    _, asgi = app
    async with _client(asgi, A_AUTH) as as_a, _client(asgi, B_AUTH) as as_b:
        made = await as_b.post("/api/v1/webhooks", json={"url": "http://10.1.2.3/hook"})
        assert made.status_code in (200, 201), made.text
        for client, mine, theirs in ((as_a, "a-repo", "b-repo"), (as_b, "b-repo", "a-repo")):
            repos = (await client.get("/api/v1/repositories")).json()["repositories"]
            assert [r["repositoryName"] for r in repos] == [mine]
            assert (await client.get("/v2/_catalog")).json() == {"repositories": [mine]}
            assert (await client.get(f"/v2/{theirs}/tags/list")).status_code == 404
        assert (await as_a.get("/api/v1/webhooks")).json()["webhooks"] == []
        hooks = (await as_b.get("/api/v1/webhooks")).json()["webhooks"]
        assert [h["url"] for h in hooks] == ["http://10.1.2.3/hook"]
        audit_a = (await as_a.get("/api/v1/audit")).text
        audit_b = (await as_b.get("/api/v1/audit")).json()
        assert "webhooks" not in audit_a
        assert any(
            "webhooks" in e["action"] and e["principal"] == B_AUTH[0]
            for e in audit_b["auditEvents"]
        ), audit_b


async def test_a_wrong_account_prefix_is_an_unknown_user(app: tuple[Services, object]) -> None:
    _, asgi = app
    for auth in (
        ("333333333333/bob", B_AUTH[1]),
        ("bob", B_AUTH[1]),
        ("222222222222/alice", A_AUTH[1]),
    ):
        async with _client(asgi, auth) as client:
            assert (await client.get("/api/v1/repositories")).status_code == 401


def _client_at(app: Any, auth: tuple[str, str], address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://dockwatch", auth=auth)


async def test_login_tokens_act_in_their_account_and_bad_ones_lock_out_their_address_only(
    app: tuple[Services, Any],
) -> None:
    services, asgi = app
    assert services.registry_tokens is not None
    token = services.registry_tokens.login_token(B, "bob").token
    async with _client_at(asgi, ("AWS", token), "10.0.0.7") as good:
        assert (await good.get("/v2/_catalog")).json() == {"repositories": ["b-repo"]}
    async with _client_at(asgi, ("AWS", token + "x"), "10.0.0.66") as bad:
        statuses = [(await bad.get("/v2/_catalog")).status_code for _ in range(8)]
    assert statuses[0] == 401 and statuses[-1] == 429
    async with _client_at(asgi, ("AWS", token), "10.0.0.7") as good:
        assert (await good.get("/v2/_catalog")).status_code == 200
