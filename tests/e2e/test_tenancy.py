"""Two accounts on one real server, with skopeo: isolation on `/v2` and `/api/v1`, pulls
across accounts only where a repository policy allows them (a Deny wins), ECR-style token
login (`skopeo login -u AWS -p TOKEN`) and its expiry, and the OCI bearer token flow.

The second account's user and login tokens are made in this process over the server's data
folder (the same database and server key), as an administrator's tooling would."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockwatch.accounts.registry_tokens import RegistryTokens
from dockwatch.api.auth import bootstrap_user
from dockwatch.app import build
from dockwatch.clock import ControlledClock
from dockwatch.config import Settings
from dockwatch.events.secretbox import load_key
from dockwatch.model.identity import Tenant
from dockwatch.registry.repository_policy import set_policy
from tests.builders.layers import make_image, make_layer, write_oci_layout
from tests.support.servers import Server, start_dockwatch
from tests.support.skopeo import copy, skopeo

A = Tenant("000000000000", "us-east-1")  # the server's default account
B = Tenant("222222222222", "us-east-1")
B_AUTH = ("222222222222/bob", "bob-password-0123")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    started = start_dockwatch(tmp_path / "data")
    try:
        services = build(Settings(data_dir=started.data))
        try:
            bootstrap_user(services.store, B, "bob", B_AUTH[1], services.clock.now())
        finally:
            services.close()
        yield started
    finally:
        started.stop()


def _layout(tmp: Path, seed: str) -> Path:
    image = make_image([make_layer({"etc/seed": seed + os.urandom(8).hex()})])
    return write_oci_layout(tmp / f"src-{seed}", [image])


def _blobs(layout: Path) -> dict[str, bytes]:
    return {
        f"{d.name}:{f.name}": f.read_bytes()
        for d in (layout / "blobs").iterdir()
        for f in d.iterdir()
    }


def _policy(server: Server, repository: str, statements: list[Any]) -> None:
    text = json.dumps({"Version": "2012-10-17", "Statement": statements})
    services = build(Settings(data_dir=server.data))
    try:
        set_policy(services.for_tenant(A).registry.ctx, repository, text)
    finally:
        services.close()


def _refused(src: str, dest: str, home: Path, auth: tuple[str, str] | None) -> str:
    with pytest.raises(AssertionError) as failed:
        copy(src, dest, home=home, src_auth=auth)
    return str(failed.value).lower()


def _server_tokens(server: Server) -> RegistryTokens:
    """Tokens minted on the server's (test-mode) clock with its data folder's key."""
    with server.client() as client:
        now = client.get("/-/test/clock").json()["now"]
    clock = ControlledClock()
    clock.set(datetime.fromisoformat(now))
    return RegistryTokens(load_key(None, server.data), clock)


def test_accounts_are_isolated_unless_a_repository_policy_grants_pulls(
    server: Server, tmp_path: Path
) -> None:
    home, src = tmp_path / "home", _layout(tmp_path, "a")
    copy(f"oci:{src}:latest", f"docker://{server.host}/app:1", home=home, dest_auth=server.auth)
    across = f"docker://{server.host}/{A.account_id}/app:1"

    assert "denied" in _refused(across, f"oci:{tmp_path / 'x'}:1", home, B_AUTH)
    with pytest.raises(AssertionError):
        skopeo("list-tags", "--tls-verify=false", "--creds", ":".join(B_AUTH),
               f"docker://{server.host}/{A.account_id}/app", home=home)  # fmt: skip
    with httpx.Client(base_url=server.url, auth=B_AUTH) as as_b:
        assert as_b.get("/v2/_catalog").json() == {"repositories": []}
        assert as_b.get("/v2/app/tags/list").status_code == 404  # B's own namespace
        assert "app" not in as_b.get("/api/v1/repositories").text
    with server.client() as as_a:
        assert as_a.get("/v2/_catalog").json() == {"repositories": ["app"]}
        names = [
            r["repositoryName"] for r in as_a.get("/api/v1/repositories").json()["repositories"]
        ]
        assert names == ["app"]
        # the account's own prefix names its own repositories
        assert as_a.get(f"/v2/{A.account_id}/app/tags/list").json()["tags"] == ["1"]

    pull = {"Sid": "b-pulls", "Effect": "Allow", "Principal": {"AWS": [B.account_id]},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                       "ecr:BatchCheckLayerAvailability"]}  # fmt: skip
    _policy(server, "app", [pull])
    out = tmp_path / "pulled"
    copy(across, f"oci:{out}:1", home=home, src_auth=B_AUTH)
    assert _blobs(out) == _blobs(src)
    # the grant is for pulls: B cannot push into A's repository
    with pytest.raises(AssertionError):
        copy(f"oci:{src}:latest", f"docker://{server.host}/{A.account_id}/app:2",
             home=home, dest_auth=B_AUTH)  # fmt: skip

    deny = {"Sid": "no-layers", "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{B.account_id}:root"},
            "Action": "ecr:GetDownload*"}  # fmt: skip
    _policy(server, "app", [pull, deny])
    # the manifest is served, the layer refused (skopeo names the status of a blob refusal)
    refused = _refused(across, f"oci:{tmp_path / 'y'}:1", tmp_path / "home2", B_AUTH)
    assert "403" in refused and "blob" in refused


def test_token_login_pushes_and_pulls_in_its_account_until_it_expires(
    server: Server, tmp_path: Path
) -> None:
    minted = _server_tokens(server).authorization_token(B, "bob")
    user, _, password = base64.b64decode(minted.token).decode().partition(":")
    home, src = tmp_path / "home", _layout(tmp_path, "b")
    skopeo("login", "--tls-verify=false", "-u", user, "-p", password, server.host, home=home)
    copy(f"oci:{src}:latest", f"docker://{server.host}/b-app:1", home=home)
    out = tmp_path / "pulled"
    copy(f"docker://{server.host}/b-app:1", f"oci:{out}:1", home=home)
    assert _blobs(out) == _blobs(src)
    with httpx.Client(base_url=server.url, auth=B_AUTH) as as_b:
        assert as_b.get("/v2/_catalog").json() == {"repositories": ["b-app"]}
    with server.client() as as_a:
        assert as_a.get("/v2/_catalog").json() == {"repositories": []}

    # 12 hours later the token is refused
    with server.client() as client:
        moved = client.post("/-/test/clock", json={"advanceSeconds": 12 * 3600 + 60})
    assert moved.status_code == 200
    refused = _refused(f"docker://{server.host}/b-app:1", f"oci:{tmp_path / 'z'}:1", home, None)
    assert "unauthorized" in refused or "authentication required" in refused


def test_bearer_token_flow(tmp_path: Path) -> None:
    server = start_dockwatch(
        tmp_path / "data", env={"DOCKWATCH_REGISTRY_BEARER_CHALLENGES": "true"}
    )
    try:
        probe = httpx.get(f"{server.url}/v2/app/manifests/1")
        assert probe.status_code == 401
        assert probe.headers["www-authenticate"] == (
            f'Bearer realm="http://{server.host}/v2/token",service="{server.host}",'
            'scope="repository:app:pull,push"'
        )
        # skopeo follows the challenge: Basic credentials at the realm, then the bearer token
        home, src = tmp_path / "home", _layout(tmp_path, "c")
        copy(f"oci:{src}:latest", f"docker://{server.host}/app:1", home=home, dest_auth=server.auth)
        out = tmp_path / "pulled"
        copy(f"docker://{server.host}/app:1", f"oci:{out}:1", home=home, src_auth=server.auth)
        assert _blobs(out) == _blobs(src)

        assert (
            httpx.get(f"{server.url}/v2/token", params={"scope": "repository:app:pull"}).status_code
            == 401
        )
        with server.client() as basic:
            got = basic.get("/v2/token", params={"scope": "repository:app:pull"})
        assert got.status_code == 200
        token = got.json()["token"]
        assert got.json()["access_token"] == token and got.json()["expires_in"] == 300
        bearer = {"Authorization": f"Bearer {token}"}
        manifest = httpx.get(f"{server.url}/v2/app/manifests/1", headers=bearer)
        assert manifest.status_code == 200
        put = httpx.put(
            f"{server.url}/v2/app/manifests/2", headers=bearer, content=manifest.content
        )
        assert put.status_code == 403 and put.json()["errors"][0]["code"] == "DENIED"
        other = httpx.get(f"{server.url}/v2/other/tags/list", headers=bearer)
        assert other.status_code == 403
        forged = httpx.get(
            f"{server.url}/v2/app/manifests/1", headers={"Authorization": f"Bearer {token}x"}
        )
        assert forged.status_code == 401
    finally:
        server.stop()
