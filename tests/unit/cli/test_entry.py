"""The command line's process entry (`dockwatch`, `python -m dockwatch`): the command's exit
status, its output and the atexit handlers as before, with the objects frozen for the exit;
a process calling `main` itself (a test) is left as it was."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

from dockwatch.cli.main import main

PROBE = """
import atexit, gc, sys
atexit.register(lambda: print("at exit: frozen" if gc.get_freeze_count() else "at exit: not"))
sys.argv[1:] = ["config", "check"]
from dockwatch.cli.entry import run
run()
"""


def _probe(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_the_process_exits_with_the_command_status_its_objects_frozen() -> None:
    good = _probe()
    assert (good.returncode, good.stdout) == (0, "at exit: frozen\n"), good.stderr
    bad = _probe(DOCKWATCH_BLOB_URL="file:///elsewhere")
    assert bad.returncode == 2
    assert bad.stdout == (
        "error: blob_url must look like s3://bucket/prefix, got 'file:///elsewhere'\n"
        "at exit: frozen\n"
    )


def test_calling_main_freezes_nothing() -> None:
    before = gc.get_freeze_count()
    assert main(["config", "check"]) == 0
    assert gc.get_freeze_count() == before
