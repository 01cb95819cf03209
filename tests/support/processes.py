"""The processes a test started, read from /proc (Linux)."""

from __future__ import annotations

from pathlib import Path


def live_children(pid: int) -> list[int]:
    """The children of process `pid` that have not exited (zombies left out)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid and stat[0] != "Z":
                found.append(int(entry.name))
    return found


def live_descendants(pid: int) -> list[int]:
    """Every live process below `pid`: its children, theirs, and so on."""
    found: list[int] = []
    todo = [pid]
    while todo:
        children = live_children(todo.pop())
        found += children
        todo += children
    return found
