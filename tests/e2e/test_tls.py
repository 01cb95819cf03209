"""`dockwatch serve --tls-cert --tls-key`: HTTPS with a real certificate and a real client."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import httpx

from tests.support.corpus import corpus_available
from tests.support.programs import require
from tests.support.servers import start_dockwatch
from tests.support.skopeo import copy


def test_https(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            require("openssl"),
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
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
