"""The command line's process entry (`dockwatch`, `python -m dockwatch`): the command's exit
status, its output and the atexit handlers as before, with the objects frozen for the exit; no
collection while the command starts, the collector back once it has; a process calling `main`
itself (a test) is left as it was."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

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
    assert gc.isenabled()


START_PROBE = """
import atexit, gc, json, sys
from dockwatch.cli import entry, start_pause

def collections():
    return sum(generation["collections"] for generation in gc.get_stats())

first, seen, real = collections(), {}, start_pause.command_started

def spy():
    seen.update(during_start=collections() - first, paused=not gc.isenabled())
    real()
    seen.update(running=gc.isenabled(), frozen=gc.get_freeze_count())

start_pause.command_started = spy
atexit.register(lambda: print(json.dumps(seen)))
entry.run()
"""


def test_no_collection_runs_while_a_command_starts(tmp_path: Path) -> None:
    """`db status` imports SQLAlchemy and the storage layer before it opens the database:
    about a hundred collections when the collector is on."""
    proc = subprocess.run(
        [sys.executable, "-c", START_PROBE, "db", "status", "--data", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["during_start"] == 0 and seen["paused"]
    assert seen["running"] and seen["frozen"] > 10_000  # the modules made during the start
