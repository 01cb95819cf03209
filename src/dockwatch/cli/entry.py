"""The command line as its own process runs it: the collector paused while the command starts,
`main`, then an exit without the collector's last sweep.

A command's start is mostly imports, which make modules, classes and functions that live as
long as the process, and hardly any cyclic garbage; yet every 700 objects made set off a
collection, and some of those walk everything made so far. `dockwatch serve` ran about 230 of
them before it answered (60 ms, one full collection 22 ms of it). The collector is paused from
the process's first line until the command says its start is over (`command_started`): then
what exists is frozen out of every later collection (`gc.freeze`: a server's collections never
walk its modules again) and the collector runs as before. `dockwatch serve` answered its first
`/v2/` 31 to 60 ms sooner (`bench/startup.py --reps 7`, three rounds alternating with the code
before: 545, 536, 578 ms against 576, 589, 638).

At exit the interpreter runs full collections of every object the command left (the modules,
their classes and functions, the caches: 65,000 objects the collector tracks after `dockwatch
db status`) before and while it clears its modules. That sweep was most of the time a command
took after it had finished: `dockwatch db status` ended 58 ms after `main` returned, 10 ms once
its objects are frozen first (`gc.freeze`, which the sweep leaves alone); 390 ms -> 345 ms in
all. What an exit must do still happens: the atexit handlers, the join of the threads still
running and the flush of stdout and stderr come before the sweep, and objects are still freed
by their reference counts as the modules are cleared. Only objects in reference cycles are left
to the operating system, as they are by every process that exits before collecting them.

Tests call `main` itself, in their own process, which must neither pause nor freeze.
"""

from __future__ import annotations

import gc
import sys
from typing import NoReturn

_starting = False
"""True from `run`'s first line until `command_started`."""


def run() -> NoReturn:
    """Run the command line, then exit with its status."""
    global _starting
    gc.disable()
    _starting = True
    from dockwatch.cli.main import main  # imported with the collector paused

    status = main()
    gc.freeze()
    sys.exit(status)


def command_started() -> None:
    """The command's start is over (its modules imported, the database not opened yet: a
    migration at start runs with the collector): freeze what exists and let the collector run
    again. Nothing in a process `run` did not start (a test calling `main`), nor after the
    first call."""
    global _starting
    if _starting:
        _starting = False
        gc.freeze()
        gc.enable()
