"""The cyclic garbage collector held off while a process builds many acyclic objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector held off during an import, a feed sync (and in their
    parsing processes, which inherit it or pause it themselves) and a rescan's delta
    (`scan/rescan.py`): the rows, tuples and contents they build are acyclic and reference
    counting frees them, but each burst of allocations set off a full collection over every
    object alive, the growing list of rows to write included. A full import of the JSON
    sources of the shared snapshot took 3.63 to 4.02 CPU-s with the collector and 2.80 to
    2.94 without (parent 1.40 to 1.06, parsing processes 2.24 to 1.74).

    The collector is the process's: paused by one thread, it is paused for all (the server's
    API threads too) until the outermost pause ends, which only delays collecting their
    cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
