"""The size a zip archive declares for its central directory, read before `zipfile` opens it.

`zipfile.ZipFile` reads the whole central directory into memory and makes an object of every
entry (about 500 bytes each) before anything can be checked. Entries take 46 bytes and a name
in the file, so a 2 GB download (the cap of `download.DownloadPolicy`) could declare some
forty million of them: tens of GB of memory. Reading the end of central directory record
(APPNOTE 4.3.16, and the zip64 record before its locator, 4.3.14-15) where `zipfile` finds
them gives the size it would read, so an archive over `MAX_DIRECTORY_BYTES` is refused first.
"""

from __future__ import annotations

import os
import zipfile

MAX_DIRECTORY_BYTES = 64 << 20
"""The largest central directory read: about 800,000 entries with 30-character names (osv.dev's
largest ecosystems hold under 100,000 records)."""

_END = b"PK\x05\x06"
_END_SIZE = 22
_LOCATOR = b"PK\x06\x07"
_LOCATOR_SIZE = 20
_END64 = b"PK\x06\x06"
_END64_SIZE = 56
_MAX_COMMENT = 0xFFFF


def directory_bytes(path: str | os.PathLike[str]) -> int:
    """The central directory size `path` declares (its zip64 record's where it has one).
    Raises `zipfile.BadZipFile` when there is no end record, OSError when it cannot be read."""
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        span = min(size, _END_SIZE + _MAX_COMMENT)
        fh.seek(size - span)
        tail = fh.read(span)
        at = tail.rfind(_END)
        if at < 0 or len(tail) - at < _END_SIZE:
            raise zipfile.BadZipFile("File is not a zip file")
        declared = int.from_bytes(tail[at + 12 : at + 16], "little")
        end_at = size - span + at
        if end_at < _LOCATOR_SIZE:
            return declared
        fh.seek(end_at - _LOCATOR_SIZE)
        locator = fh.read(_LOCATOR_SIZE)
        if locator[:4] != _LOCATOR:
            return declared
        if end_at < _LOCATOR_SIZE + _END64_SIZE:
            return declared
        fh.seek(end_at - _LOCATOR_SIZE - _END64_SIZE)  # where `zipfile` reads it
        record = fh.read(_END64_SIZE)
        if record[:4] != _END64:
            return declared
        return int.from_bytes(record[40:48], "little")


def check_directory(path: str | os.PathLike[str]) -> None:
    """Raise `zipfile.BadZipFile` when `path` declares a central directory over
    `MAX_DIRECTORY_BYTES` (or has none); OSError when it cannot be read."""
    declared, max_bytes = directory_bytes(path), MAX_DIRECTORY_BYTES
    if declared > max_bytes:
        raise zipfile.BadZipFile(
            f"central directory of {declared} bytes, over the {max_bytes} byte cap"
        )
