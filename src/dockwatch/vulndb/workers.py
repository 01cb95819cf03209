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
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Generator, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.sharedctypes import Synchronized
from typing import Any

_PR_SET_PDEATHSIG = 1

NICENESS = 10
"""How much lower than the importing process the workers run. The importer writes what they
parse, alone, and is the import's critical path: with three processes on two cores and equal
priorities it had two thirds of a core while it wrote. At this niceness it has a whole core
whenever it has work, and the workers take what it leaves. A full import of the shared
snapshot's JSON sources, each path written while the next is parsed, took 1.10 to 1.13 s at
equal priorities and 0.98 to 1.00 s so (four imports each, alternately)."""


def _start_worker(parent: int) -> None:
    """A worker dies with the process that started it (Linux: PR_SET_PDEATHSIG): an import
    killed with SIGKILL has no chance to stop its workers, which would otherwise go on parsing
    for nobody. It runs below the importer's priority (`NICENESS`)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request above
        os._exit(1)
    gc.disable()  # what it builds is acyclic (see `importer.collector_paused`)
    os.nice(NICENESS)  # never refused: lowering one's own priority needs no privilege


def _work(
    task: Callable[..., bytes],
    chunks: Sequence[Any],
    args: tuple[Any, ...],
    spool: str,
    taken: Synchronized[int],
    announce: Connection,
    parent: int,
) -> None:
    _start_worker(parent)
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


def _remove_stale_spools() -> None:
    """Spool folders of imports that were killed (SIGKILL leaves no chance to remove them):
    those whose process is gone."""
    root = tempfile.gettempdir()
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        if not name.startswith(_SPOOL_PREFIX):
            continue
        pid = name[len(_SPOOL_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:  # gone: its folder is stale
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
        except OSError:  # alive (another user's, perhaps)
            continue


def run_chunks(
    task: Callable[..., bytes], chunks: Sequence[Any], args: tuple[Any, ...], count: int
) -> Generator[bytes, None, None]:
    """`task(chunk, *args)` of every chunk, in order, computed by `count` processes.

    `task` must be a module-level function (a clean interpreter imports it when this process
    runs threads). An exception in a task is raised here in its turn, after the results of the
    chunks before it; a worker that dies without a word raises RuntimeError. Leaving the
    iterator early stops the workers."""
    # fork is cheapest and safe while this process runs no other thread (the CLI); a server
    # with threads starts clean interpreters instead
    method = "fork" if threading.active_count() == 1 else "spawn"
    ctx: Any = multiprocessing.get_context(method)
    _remove_stale_spools()
    spool = tempfile.mkdtemp(prefix=f"{_SPOOL_PREFIX}{os.getpid()}-")
    taken = ctx.Value("q", 0)
    procs = []
    pipes: dict[Connection, Any] = {}  # announcements of each live worker, by its sentinel
    try:
        for _ in range(count):
            reader, writer = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=_work,
                args=(task, chunks, args, spool, taken, writer, os.getpid()),
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
                    # a worker ended (a spawned one may never have opened its pipe, whose
                    # other end this process then still holds): what it announced, then drop it
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
