"""The walk of a folder of feed files: `os.walk`'s order, and only regular files to read.

A folder given to `db import` (or a feed's local copy) may hold a named pipe, a socket or a
device: opening a pipe blocks until something writes to it, so reading every name `os.walk`
lists hung the import. Here a folder's entries are told apart by the type the directory
itself records (`os.scandir`: no system call for a plain file), and whatever is not a regular
file, or a link to one, is handed back apart, never opened.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NamedTuple

NOT_A_FILE = "not a regular file (a pipe, socket, device or broken link): not read"


class Folder(NamedTuple):
    """One folder of a walk: its path, its regular files and its other entries (pipes,
    sockets, devices, broken links), each sorted by name, hidden names left out."""

    path: str
    files: list[str]
    others: list[str]


def walk_files(top: str | os.PathLike[str]) -> Iterator[Folder]:
    """Every folder under `top` (itself first), as `os.walk` walks them top-down with each
    folder's subfolders sorted and hidden ones skipped; links to folders are not followed,
    and folders that cannot be listed are passed over, as `os.walk` does."""
    pending = [os.fspath(top)]
    while pending:
        path = pending.pop()
        files: list[str] = []
        others: list[str] = []
        folders: list[str] = []
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    name = entry.name
                    if name.startswith("."):
                        continue
                    try:
                        if entry.is_dir():
                            if not entry.is_symlink():
                                folders.append(name)
                        elif entry.is_file():
                            files.append(name)
                        else:
                            others.append(name)
                    except OSError:
                        others.append(name)
        except OSError:
            continue
        files.sort()
        others.sort()
        yield Folder(path, files, others)
        folders.sort(reverse=True)  # the first is walked next
        pending += [os.path.join(path, name) for name in folders]
