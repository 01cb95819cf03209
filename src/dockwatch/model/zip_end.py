"""A zip archive's end records and central directory, measured as `zipfile` will read them.

`zipfile.ZipFile` reads the whole central directory and makes an object of every entry (about
360 bytes each) before anything can be checked, and it walks the directory by its declared size:
the entry count the end record declares is never used. An archive that declares one entry while
its directory holds millions passes a check of the count and still takes gigabytes. Feed
archives (files) and the archives found in image layers (bytes) are hostile, so both are
measured here first, from the same records `zipfile` uses (APPNOTE 4.3.12-4.3.16):

- the end of central directory record: the last 22 bytes when it has no comment, else the last
  signature in the archive's last 22 + 65,535 bytes;
- the zip64 record, 56 bytes just before the zip64 locator, itself just before the end record;
- the directory: the size it declares, just before the (zip64) end record, wherever its
  declared offset points (`zipfile` works out the prefix of a self-extracting archive so).
"""

from __future__ import annotations

import struct

from dockwatch.value_class import frozen

END_SIGNATURE = b"PK\x05\x06"
END_BYTES = 22
MAX_COMMENT = 0xFFFF
LOCATOR_SIGNATURE = b"PK\x06\x07"
LOCATOR_BYTES = 20
END64_SIGNATURE = b"PK\x06\x06"
END64_BYTES = 56
ENTRY_SIGNATURE = b"PK\x01\x02"
ENTRY_BYTES = 46
"""A central directory entry's fixed part; its name, extra field and comment follow."""

TAIL_BYTES = END_BYTES + MAX_COMMENT + LOCATOR_BYTES + END64_BYTES
"""The most of an archive's end that its end records can span."""

_ENTRY_LENGTHS = struct.Struct("<3H")
"""An entry's name, extra field and comment lengths, at offset 28."""


@frozen
class ZipEnd:
    """What an archive's end records declare."""

    entries: int
    """The total number of entries (never used by `zipfile`)."""
    directory_bytes: int
    """The size of the central directory: what `zipfile` reads and walks."""
    directory_at: int
    """Where `zipfile` reads the directory from (negative: it refuses the archive)."""


def read_end(tail: bytes, size: int) -> ZipEnd | None:
    """The end records of an archive of `size` bytes whose last `min(size, TAIL_BYTES)` bytes
    are `tail`; None where `zipfile` finds none (it refuses the archive)."""
    search = tail[-(END_BYTES + MAX_COMMENT) :]
    if search[-END_BYTES:-18] == END_SIGNATURE and search[-2:] == b"\0\0":
        at = len(search) - END_BYTES
    else:
        at = search.rfind(END_SIGNATURE)
        if at < 0 or len(search) - at < END_BYTES:
            return None
    at += len(tail) - len(search)  # in `tail`
    end_at = size - len(tail) + at  # in the archive
    entries, directory_bytes = struct.unpack_from("<HL", tail, at + 10)
    record_at = end_at
    locator_at = at - LOCATOR_BYTES
    end64_at = locator_at - END64_BYTES
    if (
        end64_at >= 0
        and tail[locator_at : locator_at + 4] == LOCATOR_SIGNATURE
        and tail[end64_at : end64_at + 4] == END64_SIGNATURE
    ):
        entries, directory_bytes = struct.unpack_from("<2Q", tail, end64_at + 32)
        record_at = end_at - LOCATOR_BYTES - END64_BYTES
    return ZipEnd(entries, directory_bytes, record_at - directory_bytes)


def archive_end(data: bytes) -> ZipEnd | None:
    """`read_end` of a whole archive held in memory."""
    return read_end(data[-TAIL_BYTES:], len(data))


def count_entries(data: bytes, end: ZipEnd, stop: int) -> int:
    """The entries of `data`'s central directory as `zipfile` walks it (each header's fixed
    part, then its three lengths), counting no further than `stop`; the walk ends where a
    header is cut short or has the wrong signature, as `zipfile` stops there too."""
    at, last = end.directory_at, end.directory_at + end.directory_bytes
    if at < 0:
        return 0
    count = 0
    lengths = _ENTRY_LENGTHS.unpack_from
    while at < last and count < stop:
        if len(data) - at < ENTRY_BYTES or data[at : at + 4] != ENTRY_SIGNATURE:
            break
        name, extra, comment = lengths(data, at + 28)
        at += ENTRY_BYTES + name + extra + comment
        count += 1
    return count


def too_many_entries(data: bytes, max_entries: int) -> str | None:
    """Why an archive held in memory lists more than `max_entries` entries, before `zipfile`
    indexes them; None when it lists no more (or has no end record: `zipfile` refuses it).
    The directory is walked only when its size leaves room for more entries than the cap."""
    end = archive_end(data)
    if end is None:
        return None
    if end.entries > max_entries:
        return f"{end.entries} zip entries, over the limit {max_entries}"
    if end.directory_bytes <= max_entries * ENTRY_BYTES:
        return None
    if count_entries(data, end, max_entries + 1) > max_entries:
        return (
            f"over {max_entries} zip entries in a central directory of {end.directory_bytes}"
            f" bytes (its end record declares {end.entries})"
        )
    return None
