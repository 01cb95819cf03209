"""The digest a record file's bytes are known by, so that an import can tell a record it stored
from the same bytes before without reading it again.

What an import stores of a record depends on the bytes and on the code that reads them: a
release that reads records differently must read every record again once. So the digest covers
this build's code (every Python file of the package, hashed once per process: about 20 ms for
its 2.8 MB) and the source the records are read for (a feed's name, or the grouping by
ecosystem of `db import`), then the bytes.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from importlib import metadata

import dockwatch

_identity: bytes | None = None


def code_identity() -> bytes:
    """A digest of this build's code: every `.py` file of the package, by relative path (the
    installed version when the files cannot be read, a package inside a zip file); computed
    once per process, or handed over (`adopt`)."""
    global _identity
    if _identity is None:
        _identity = _package_digest()
    return _identity


def adopt(identity: bytes) -> None:
    """Take the `code_identity` the importing process computed, in a parsing process of the
    same build, rather than hashing the package again (about 20 ms a process, for every
    parsing process of every feed a sync reads)."""
    global _identity
    if identity != _identity:
        _identity = identity
        _seeded.cache_clear()


def _package_digest() -> bytes:
    root = os.path.dirname(dockwatch.__file__)
    h = hashlib.sha256()
    found = 0
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path, "rb") as fh:
                body = fh.read()
            h.update(f"{os.path.relpath(path, root)}\0{len(body)}\0".encode())
            h.update(body)
            found += 1
    if not found:
        try:
            h.update(metadata.version("dockwatch").encode())
        except metadata.PackageNotFoundError:
            h.update(b"unknown build")
    return h.digest()


@cache
def _seeded(source: str) -> hashlib._Hash:
    h = hashlib.sha256(code_identity())
    h.update(source.encode() + b"\0")
    return h


def record_digest(data: bytes, source: str) -> bytes:
    """The digest of a record file's `data` read for `source` by this build."""
    h = _seeded(source).copy()
    h.update(data)
    return h.digest()
