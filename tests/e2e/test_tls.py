"""`dockwatch serve --tls-cert --tls-key`: HTTPS with a real certificate and a real client."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx

from tests.support.certs import self_signed
from tests.support.corpus import corpus_available
from tests.support.servers import start_dockwatch
from tests.support.skopeo import copy


def test_https(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server = start_dockwatch(
        tmp_path / "data",
        extra_args=("--tls-cert", str(cert), "--tls-key", str(key)),
        scheme="https",
    )
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        r = httpx.get(f"{server.url}/v2/", auth=server.auth, verify=trust)
        assert r.status_code == 200
        assert r.headers["docker-distribution-api-version"] == "registry/2.0"
        corpus = corpus_available()
        if corpus is None:  # the HTTPS part above still ran
            return
        copy(
            f"oci:{corpus / 'distroless-debian'}:latest",
            f"docker://{server.host}/tls/img:latest",
            home=tmp_path / "home",
            dest_auth=server.auth,
        )
        tags = httpx.get(
            f"{server.url}/v2/tls/img/tags/list", auth=server.auth, verify=trust
        ).json()
        assert tags == {"name": "tls/img", "tags": ["latest"]}
    finally:
        server.stop()
