"""A self-signed certificate for 127.0.0.1, made with openssl (HTTPS tests)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.programs import require


def self_signed(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files in `folder`, valid two days for IP 127.0.0.1."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            require("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
