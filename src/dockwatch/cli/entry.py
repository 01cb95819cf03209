"""The command line as its own process runs it: the collector paused while the command starts
(`start_pause.py`), `main`, then an exit without the collector's last sweep.

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

from dockwatch.cli.start_pause import pause


def run() -> NoReturn:
    """Run the command line, then exit with its status."""
    pause()
    from dockwatch.cli.main import main  # imported with the collector paused

    status = main()
    gc.freeze()
    sys.exit(status)
