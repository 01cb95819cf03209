"""Run the real `dockwatch` command line in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def dockwatch(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`python -m dockwatch --log-level WARNING ARGS`, captured."""
    return subprocess.run(
        [sys.executable, "-m", "dockwatch", "--log-level", "WARNING", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def db_import(data: Path, *paths: Path, env: dict[str, str] | None = None) -> str:
    """`dockwatch db import` into a data folder (a running server's too, with its `env` when it
    runs on another database); returns stdout."""
    out = dockwatch("db", "import", "--data", str(data), *map(str, paths), env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout
