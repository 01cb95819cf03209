"""The collector paused while a command starts, until the command says its start is over.

A command's start is mostly imports, which make modules, classes and functions that live as
long as the process, and hardly any cyclic garbage; yet every 700 objects made set off a
collection, and some of those walk everything made so far. `dockwatch serve` ran about 230 of
them before it answered (60 ms, one full collection 22 ms of it); `dockwatch db status` 140
before it opened its database. `entry.run` pauses the collector on the process's first line;
`command_started` ends the pause: what exists is frozen out of every later collection
(`gc.freeze`: a server's collections never walk its modules again) and the collector runs as
before. `dockwatch serve` answered its first `/v2/` 33 to 75 ms sooner (`bench/startup.py
--reps 7`, three rounds alternating with the code before: 562, 552, 562 ms against 618, 627,
595); `dockwatch db status` took 316-326 ms instead of 354-359.
"""

from __future__ import annotations

import gc

_paused = False
"""True from `pause` until `command_started`."""


def pause() -> None:
    """Pause the collector until `command_started` (`entry.run`, on the process's first line)."""
    global _paused
    gc.disable()
    _paused = True


def command_started() -> None:
    """The command's start is over (its modules imported, the database not opened yet: a
    migration at start runs with the collector): freeze what exists and let the collector run
    again. Nothing in a process `pause` was not called in (a test calling `main`), nor after
    the first call."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
