"""Worker processes that take their chunks themselves: every result in order, a task's error
raised to the caller, a worker that dies without a word noticed, nothing left behind."""

from __future__ import annotations

import multiprocessing.resource_tracker
import os
import pickle
import signal
import tempfile
import threading
from pathlib import Path

import pytest

from dockwatch.vulndb import workers
from tests.support.processes import live_children


def _square_all(chunk: list[int], offset: int) -> bytes:
    return ",".join(str(n * n + offset) for n in chunk).encode()


def _fail_on_13(chunk: list[int], offset: int) -> bytes:
    if 13 in chunk:
        raise ValueError(f"no 13 please (offset {offset})")
    return _square_all(chunk, offset)


def _die_on_13(chunk: list[int], offset: int) -> bytes:
    if 13 in chunk:
        os.kill(os.getpid(), signal.SIGKILL)
    return _square_all(chunk, offset)


def _niceness(chunk: list[int], offset: int) -> bytes:
    return str(os.nice(0)).encode()


CHUNKS = [list(range(n, n + 3)) for n in range(0, 60, 3)]


def _spools(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("dockwatch-parse-"))


@pytest.fixture(autouse=True)
def _spool_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again


@pytest.mark.parametrize("count", [1, 2, 3])
def test_every_result_comes_back_in_order(tmp_path: Path, count: int) -> None:
    got = list(workers.run_chunks(_square_all, CHUNKS, (7,), count))
    assert got == [_square_all(c, 7) for c in CHUNKS]
    assert _spools(tmp_path) == []


def test_the_workers_run_below_the_importers_priority(tmp_path: Path) -> None:
    """The importer writes what they parse and waits for no one: it is given the cores first
    (niceness 10 more, at most 19, the lowest)."""
    mine = os.nice(0)
    got = set(workers.run_chunks(_niceness, CHUNKS, (0,), 2))
    assert got == {str(min(19, mine + 10)).encode()}
    assert os.nice(0) == mine  # this process's own is untouched


def _parents(chunk: list[int], offset: int) -> bytes:
    return str(os.getppid()).encode()


def test_the_fork_server_forks_the_workers_when_threads_run(tmp_path: Path) -> None:
    """A process with threads does not fork itself: multiprocessing's fork server, a clean
    interpreter this process started, forks the workers; they end with the work."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        got = list(workers.run_chunks(_square_all, CHUNKS[:4], (1,), 2))
        parents = set(workers.run_chunks(_parents, CHUNKS[:4], (0,), 2))
    finally:
        stop.set()
        thread.join()
    assert got == [_square_all(c, 1) for c in CHUNKS[:4]]
    (server,) = parents
    assert int(server) in live_children(os.getpid())
    assert _is_fork_server(int(server))
    assert live_children(int(server)) == []  # the workers ended


def _chunk_read(chunk: list[int], offset: int) -> bytes:
    """What the worker was handed: its chunk, and how it got it (its arguments' file)."""
    return f"{chunk}+{offset}".encode()


def test_the_fork_servers_workers_read_the_work_from_the_spool_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forked by the fork server, a worker is handed the path of a file with the arguments
    and the chunks, each read as it is taken: what is pickled for each worker does not grow
    with the chunks."""
    chunks = [[n, "x" * 1000] for n in range(300)]
    sent: list[int] = []
    real = workers.SpooledWork.__getstate__

    def measured(self: workers.SpooledWork) -> tuple[str, list[int]]:
        state = real(self)
        sent.append(len(pickle.dumps(state)))
        return state

    monkeypatch.setattr(workers.SpooledWork, "__getstate__", measured)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        got = list(workers.run_chunks(_chunk_read, chunks, (5,), 2))
    finally:
        stop.set()
        thread.join()
    assert got == [f"{c}+5".encode() for c in chunks]
    assert len(sent) == 2 and max(sent) < 10 * len(chunks)  # offsets, not 300 kB of chunks
    assert list(workers.run_chunks(_chunk_read, chunks[:9], (6,), 2)) == [
        f"{c}+6".encode() for c in chunks[:9]
    ]  # forked: the chunks shared, no file
    assert _spools(tmp_path) == []


def test_the_fork_server_imports_this_packages_modules_once_in_their_order() -> None:
    """A fork server's worker runs the main script again; the script's imports must be found
    made: every module of the package this process imported, dependencies first, never an
    entry module (it would run a command in the fork server), and the task's own."""
    loaded = ["os", "dockwatch", "dockwatch.model", "x.dockwatch", "dockwatch.cli"]
    loaded += ["dockwatch.__main__", "dockwatch.vulndb.parallel"]
    assert workers._preloaded(_square_all, loaded) == [
        "dockwatch",
        "dockwatch.model",
        "dockwatch.cli",
        "dockwatch.vulndb.parallel",
        __name__,
    ]


def test_an_error_in_a_task_is_raised_and_the_workers_end(tmp_path: Path) -> None:
    before = _children()
    results = workers.run_chunks(_fail_on_13, CHUNKS, (0,), 2)
    got: list[bytes] = []
    with pytest.raises(ValueError, match="no 13 please"):
        got.extend(results)
    assert got == [_square_all(c, 0) for c in CHUNKS[:4]]  # the chunks before 12..14
    assert _spools(tmp_path) == []
    assert _children() == before


@pytest.mark.parametrize("threads", [False, True])
def test_a_worker_killed_mid_chunk_is_noticed(tmp_path: Path, threads: bool) -> None:
    """Forked by this process or by the fork server (this process running another thread)."""
    before = _children()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    if threads:
        thread.start()
    try:
        with pytest.raises(RuntimeError, match="ended without its results"):
            list(workers.run_chunks(_die_on_13, CHUNKS, (0,), 2))
    finally:
        stop.set()
        if threads:
            thread.join()
    assert _spools(tmp_path) == []
    assert _children() == before


def test_leaving_early_stops_the_workers(tmp_path: Path) -> None:
    before = _children()
    results = workers.run_chunks(_square_all, CHUNKS, (0,), 2)
    assert next(results) == _square_all(CHUNKS[0], 0)
    results.close()
    assert _spools(tmp_path) == []
    assert _children() == before


def _children() -> list[int]:
    """This process's live children, the fork server's in place of the server itself.
    Multiprocessing's resource tracker is started first: the first worker of a process starts
    it and it stays, as the fork server does, whichever test that is."""
    multiprocessing.resource_tracker.ensure_running()
    found = []
    for pid in live_children(os.getpid()):
        if _is_fork_server(pid):
            found += live_children(pid)
        else:
            found.append(pid)
    return found


def _is_fork_server(pid: int) -> bool:
    return "forkserver" in Path(f"/proc/{pid}/cmdline").read_text()


def test_spool_folders_of_killed_imports_are_removed(tmp_path: Path) -> None:
    """A killed import leaves its spool folder; the next one removes it, not a live one's."""
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    import hashlib
    import socket

    namespace = os.readlink("/proc/self/ns/pid").split("[")[1].rstrip("]")
    here = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8] + "." + namespace
    stale = tmp_path / f"dockwatch-parse-{here}.{int(gone.stdout)}-abc"
    live = tmp_path / f"dockwatch-parse-{here}.{os.getpid()}-def"
    elsewhere = tmp_path / f"dockwatch-parse-{here[:8]}.1.{int(gone.stdout)}-ghi"
    other = tmp_path / "dockwatch-parse-notapid"
    for folder in (stale, live, elsewhere, other):
        folder.mkdir()
        (folder / "0").write_bytes(b"x")
    assert list(workers.run_chunks(_square_all, CHUNKS[:2], (0,), 2)) == [
        _square_all(c, 0) for c in CHUNKS[:2]
    ]
    assert _spools(tmp_path) == sorted([live.name, elsewhere.name, other.name])
