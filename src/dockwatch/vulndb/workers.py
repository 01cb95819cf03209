"""Worker processes that take chunks of work themselves and leave each result in a file.

`concurrent.futures.ProcessPoolExecutor` hands out work and collects results through a thread
of the importing process, which needs that process's GIL for every chunk: while the importer
wrote a source (Python code holding the GIL, or the process waiting for a core on a busy
machine) that thread stalled, the result pipes filled and the parsing processes stopped. In
one import of the shared snapshot's JSON sources, during the 1.2 s spent writing the first
source, each parsing process was blocked 0.41 to 0.46 s (`/proc/<pid>/schedstat`: run time and
queue wait subtracted from the elapsed time). Here the workers take the next chunk from a
shared counter, write its result into a spool folder and announce it with a few bytes on their
own pipe: they never wait for the importer, which reads the results in order when it wants
them.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import pickle
import select
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

from dockwatch.process_identity import folder_owner, remove_abandoned_folders

_PR_SET_PDEATHSIG = 1

NICENESS = 10
"""How much lower than the importing process the workers run. The importer writes what they
parse, alone, and is the import's critical path: with three processes on two cores and equal
priorities it had two thirds of a core while it wrote. At this niceness it has a whole core
whenever it has work, and the workers take what it leaves. A full import of the shared
snapshot's JSON sources, each path written while the next is parsed, took 1.10 to 1.13 s at
equal priorities and 0.98 to 1.00 s so (four imports each, alternately)."""


def _start_worker(importer: int, forked: bool) -> None:
    """A worker dies with the importing process (`importer`): an import killed with SIGKILL
    has no chance to stop its workers, which would otherwise go on parsing for nobody.
    Forked by the importer, it asks Linux for that (PR_SET_PDEATHSIG). Forked by the fork
    server, whose life each of its children prolongs (they hold its end of the importer's
    pipe), a thread of its own ends it when the importer ends (`_end_with`). It runs below
    the importer's priority (`NICENESS`)."""
    if forked:
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != importer:  # it died before the request above
            os._exit(1)
    else:
        threading.Thread(target=_end_with, args=(importer,), daemon=True).start()
    gc.disable()  # what it builds is acyclic (see `collector.collector_paused`)
    os.nice(NICENESS)  # never refused: lowering one's own priority needs no privilege


def _end_with(pid: int) -> None:
    """End this process once process `pid` has ended (at once, whatever its main thread is
    doing): woken by a pidfd where Linux has them, else checking twice a second."""
    try:
        handle = os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfd (or `pid` gone already: then at once)
        handle = None
    if handle is not None:
        select.select([handle], [], [])  # readable once the process has ended
        os._exit(1)
    while True:
        try:
            os.kill(pid, 0)
        except OSError:  # gone (its pid another user's process now, if PermissionError)
            os._exit(1)
        time.sleep(0.5)


class SpooledWork:
    """A pool's arguments and chunks in a file of its spool folder, for workers the fork server
    starts: a worker reads the arguments once and each chunk it takes. As the processes'
    arguments, every chunk was pickled for each worker, and the importing process waited at
    each start while the worker read them all: for the four archives of `bench/feed_sync.py`
    synced beside a thread, 18,050 members with their directory entries, about 3 MB a worker
    (0.14 s to pickle, as long to read back)."""

    def __init__(self, path: str, chunks: Sequence[Any], args: tuple[Any, ...]) -> None:
        self._path = path
        self._ends: list[int] = []
        with open(path, "wb") as out:
            for part in (args, *chunks):
                out.write(pickle.dumps(part, pickle.HIGHEST_PROTOCOL))
                self._ends.append(out.tell())
        self._fd: int | None = None

    def __getstate__(self) -> tuple[str, list[int]]:
        return self._path, self._ends

    def __setstate__(self, state: tuple[str, list[int]]) -> None:
        self._path, self._ends = state
        self._fd = None

    def _read(self, at: int) -> Any:
        if self._fd is None:  # closed with the worker process
            self._fd = os.open(self._path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        start = self._ends[at - 1] if at else 0
        return pickle.loads(os.pread(self._fd, self._ends[at] - start, start))

    def args(self) -> tuple[Any, ...]:
        """The arguments every chunk's task takes."""
        return tuple(self._read(0))

    def __len__(self) -> int:
        return len(self._ends) - 1

    def __getitem__(self, index: int) -> Any:
        return self._read(index + 1)


def _work(
    task: Callable[..., bytes],
    chunks: Sequence[Any] | SpooledWork,
    args: tuple[Any, ...] | None,
    spool: str,
    taken: Synchronized[int],
    announce: Connection,
    importer: int,
    forked: bool,
) -> None:
    _start_worker(importer, forked)
    if isinstance(chunks, SpooledWork):
        args = chunks.args()
    assert args is not None
    while True:
        with taken.get_lock():
            index = taken.value
            taken.value += 1
        if index >= len(chunks):
            return
        try:
            result = task(chunks[index], *args)
            path = os.path.join(spool, str(index))
            with open(path + ".part", "wb") as out:
                out.write(result)
            os.rename(path + ".part", path)
        except Exception as exc:  # noqa: BLE001 - the importer raises it in its turn
            announce.send((index, exc))
            continue
        except BaseException as exc:  # interrupted: this worker stops
            announce.send((index, exc))
            return
        announce.send((index, None))


_SPOOL_PREFIX = "dockwatch-parse-"


def _context(task: Callable[..., bytes]) -> Any:
    """How workers start. Forking is cheapest and safe while this process runs no other thread
    (the CLI). Beside threads (the server: its scheduled feed syncs) a fork could copy a lock
    another thread holds, so they are forked by multiprocessing's fork server instead: a clean
    interpreter started once, the first time, with `task`'s module imported, which then forks
    each worker as cheaply (`_preloaded`). Starting each worker as a clean interpreter (spawn)
    cost more than the workers saved on one OSV archive: the four archives of the shared
    snapshot synced beside a thread in 4.44-4.47 s so, 2.94-3.05 s parsed in the syncing
    process, 2.23-2.35 s forked by the fork server (3.65-3.73 s before, read through the
    model in one process)."""
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_preloaded(task))  # read when the server first starts
    return ctx


def _preloaded(task: Callable[..., bytes], loaded: Sequence[str] | None = None) -> list[str]:
    """The modules the fork server imports once, when it starts: `task`'s, and every module of
    this package this process has imported (`loaded`, by default `sys.modules`). Each worker
    runs this process's main script again before its task (multiprocessing does not hand the
    script's path to the fork server, so it cannot preload it), and the script's imports are
    then found already made. Otherwise a worker of a process that had imported the server's
    modules took 0.2 s to start."""
    package = __name__.split(".", 1)[0]
    # in the order they were imported first (a module's dependencies before it); never a
    # command line's entry module, which would run the command
    ours = [
        m
        for m in (list(sys.modules) if loaded is None else loaded)
        if (m == package or m.startswith(package + ".")) and not m.endswith(".__main__")
    ]
    return [*ours, task.__module__]


def run_chunks(
    task: Callable[..., bytes], chunks: Sequence[Any], args: tuple[Any, ...], count: int
) -> Generator[bytes, None, None]:
    """`task(chunk, *args)` of every chunk, in order, computed by `count` processes.

    `task` must be a module-level function (a clean interpreter imports it when this process
    runs threads). An exception in a task is raised here in its turn, after the results of the
    chunks before it; a worker that dies without a word raises RuntimeError. Leaving the
    iterator early stops the workers."""
    ctx = _context(task)
    forked = ctx.get_start_method() == "fork"
    # spool folders of imports killed outright (SIGKILL leaves no chance to remove them)
    remove_abandoned_folders(Path(tempfile.gettempdir()), _SPOOL_PREFIX)
    spool = tempfile.mkdtemp(prefix=f"{_SPOOL_PREFIX}{folder_owner()}-")
    taken = ctx.Value("q", 0)
    procs = []
    pipes: dict[Connection, Any] = {}  # announcements of each live worker, by its sentinel
    try:
        # forked workers share this process's memory; the fork server's would be sent it all
        work = chunks if forked else SpooledWork(os.path.join(spool, "work"), chunks, args)
        for _ in range(count):
            reader, writer = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=_work,
                args=(
                    task,
                    work,
                    args if forked else None,
                    spool,
                    taken,
                    writer,
                    os.getpid(),
                    forked,
                ),
                daemon=True,
            )
            proc.start()
            writer.close()
            procs.append(proc)
            pipes[reader] = proc.sentinel
        done: set[int] = set()
        failed: dict[int, BaseException] = {}

        def take(reader: Connection) -> None:
            finished, error = reader.recv()
            if error is not None:
                failed[finished] = error
            done.add(finished)

        for index in range(len(chunks)):
            while index not in done:
                if not pipes:
                    if failed:  # the workers stopped on it
                        raise failed[min(failed)]
                    raise RuntimeError("a parsing process ended without its results")
                for ready in wait([*pipes, *pipes.values()]):
                    if isinstance(ready, Connection):
                        if ready not in pipes:  # its worker's end was seen just before
                            continue
                        try:
                            take(ready)
                        except EOFError:  # the worker is gone: finished, or killed
                            del pipes[ready]
                        continue
                    # a worker ended (one the fork server started may never have opened its
                    # pipe, whose other end this process then still holds): what it
                    # announced, then drop it
                    for reader in [r for r, sentinel in pipes.items() if sentinel == ready]:
                        try:
                            while reader.poll():
                                take(reader)
                        except EOFError:
                            pass
                        del pipes[reader]
            if index in failed:  # raised in order: the results before it are handed out first
                raise failed[index]
            path = os.path.join(spool, str(index))
            with open(path, "rb") as result:
                data = result.read()
            os.unlink(path)
            yield data
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
            proc.join()
        for reader in pipes:
            reader.close()
        shutil.rmtree(spool, ignore_errors=True)
