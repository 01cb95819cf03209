"""Run skopeo as a user would, with a private home so its blob-info cache is per test."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .programs import require


def skopeo(*args: str, home: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `skopeo --insecure-policy ARGS`; raises with its output on failure."""
    binary = require("skopeo")
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(home)}
    proc = subprocess.run(
        [binary, "--insecure-policy", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(f"skopeo {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def copy(
    src: str,
    dest: str,
    *,
    home: Path,
    src_auth: tuple[str, str] | None = None,
    dest_auth: tuple[str, str] | None = None,
    extra: tuple[str, ...] = (),
) -> str:
    """`skopeo copy` with TLS verification off on both ends; returns its output."""
    args = ["copy", "--src-tls-verify=false", "--dest-tls-verify=false"]
    if src_auth:
        args += ["--src-creds", f"{src_auth[0]}:{src_auth[1]}"]
    if dest_auth:
        args += ["--dest-creds", f"{dest_auth[0]}:{dest_auth[1]}"]
    proc = skopeo(*args, *extra, src, dest, home=home)
    return proc.stdout + proc.stderr
