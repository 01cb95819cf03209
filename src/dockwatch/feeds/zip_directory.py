"""The size a zip archive declares for its central directory, read before `zipfile` opens it.

`zipfile.ZipFile` reads the whole central directory into memory and makes an object of every
entry (about 500 bytes each) before anything can be checked. Entries take 46 bytes and a name
in the file, so a 2 GB download (the cap of `download.DownloadPolicy`) could declare some
forty million of them: tens of GB of memory. Reading the end records where `zipfile` finds
them (`model.zip_end`) gives the size it would read, so an archive over `MAX_DIRECTORY_BYTES`
is refused first.
"""

from __future__ import annotations

import os
import struct
import zipfile

from dockwatch.model.zip_end import TAIL_BYTES, ZipEnd, read_end

MAX_DIRECTORY_BYTES = 64 << 20
"""The largest central directory read: about 800,000 entries with 30-character names (osv.dev's
largest ecosystems hold under 100,000 records)."""


def directory_end(path: str | os.PathLike[str]) -> ZipEnd:
    """What the end records of `path` declare. Raises `zipfile.BadZipFile` when there is no
    end record, OSError when it cannot be read."""
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(size - min(size, TAIL_BYTES))
        end = read_end(fh.read(TAIL_BYTES), size)
    if end is None:
        raise zipfile.BadZipFile("File is not a zip file")
    return end


def check_directory(path: str | os.PathLike[str]) -> ZipEnd:
    """What the end records of `path` declare; raise `zipfile.BadZipFile` when they declare
    a central directory over `MAX_DIRECTORY_BYTES` (or there are none), OSError when it
    cannot be read."""
    end, max_bytes = directory_end(path), MAX_DIRECTORY_BYTES
    if end.directory_bytes > max_bytes:
        raise zipfile.BadZipFile(
            f"central directory of {end.directory_bytes} bytes, over the {max_bytes} byte cap"
        )
    return end


_DIRECTORY_ERRORS = (ValueError, EOFError, NotImplementedError, struct.error)
"""What `zipfile` raises, besides `BadZipFile`, on a directory it cannot take: a name not in
UTF-8 where its entry says it is (UnicodeDecodeError), a "version needed to extract" beyond
what it knows (NotImplementedError), ..."""


def open_zip(path: str | os.PathLike[str]) -> tuple[zipfile.ZipFile, ZipEnd]:
    """`path` opened by `zipfile` once `check_directory` has passed, and what its end
    records declare. Raises `zipfile.BadZipFile` for any archive `zipfile` cannot take (not
    only where it raises that itself), OSError when it cannot be read."""
    end = check_directory(path)
    try:
        return zipfile.ZipFile(path), end
    except _DIRECTORY_ERRORS as exc:
        raise zipfile.BadZipFile(f"{type(exc).__name__}: {exc}") from exc
