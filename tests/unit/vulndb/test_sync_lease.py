"""Lease holder names, and telling a holder that is gone: real processes of this host, one
that has ended and one that runs, against names of other hosts, namespaces and forms."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from dockwatch.vulndb.sync_lease import holder_name, left_by_a_dead_process


def _namespace() -> str:
    """This process's pid namespace as /proc names it, read here independently."""
    link = os.readlink("/proc/self/ns/pid")  # e.g. pid:[4026531836]
    return link[link.index("[") + 1 : -1]


@pytest.fixture
def ended_pid() -> int:
    """The id of a process of this host that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def running_pid() -> Iterator[int]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_a_holder_names_its_host_process_and_namespace() -> None:
    host = socket.gethostname()
    assert holder_name() == f"{host}:{os.getpid()}:{_namespace()}"
    assert holder_name("db-sync:") == f"db-sync:{host}:{os.getpid()}:{_namespace()}"


def test_a_process_of_this_host_that_has_ended_is_gone(ended_pid: int) -> None:
    host, ns = socket.gethostname(), _namespace()
    assert left_by_a_dead_process(f"{host}:{ended_pid}:{ns}")
    assert left_by_a_dead_process(f"db-sync:{host}:{ended_pid}:{ns}")


def test_a_process_that_runs_is_not_gone(running_pid: int) -> None:
    host, ns = socket.gethostname(), _namespace()
    assert not left_by_a_dead_process(f"{host}:{running_pid}:{ns}")
    assert not left_by_a_dead_process(holder_name())  # this very process


@pytest.mark.parametrize(
    "name",
    [
        "another-host:{pid}:{ns}",  # its process table is not ours
        "{host}:{pid}:1",  # another pid namespace (a container of this host)
        "{host}:{pid}:-",  # a namespace that could not be read
        "{host}:{pid}",  # a name of the form before namespaces were named
        "killed-host:9",
        "{host}:0:{ns}",
        "{host}:-5:{ns}",
        "{host}:x:{ns}",
        "",
    ],
)
def test_what_cannot_be_seen_is_never_gone(name: str, ended_pid: int) -> None:
    holder = name.format(host=socket.gethostname(), pid=ended_pid, ns=_namespace())
    assert not left_by_a_dead_process(holder)


def test_without_a_namespace_to_read_nothing_is_gone(
    ended_pid: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(path: str) -> str:
        raise OSError("no /proc")

    monkeypatch.setattr(os, "readlink", unreadable)
    holder = holder_name()
    assert holder.endswith(":-")
    assert not left_by_a_dead_process(f"{socket.gethostname()}:{ended_pid}:-")
