"""An archive's members read with one positioned read and one inflate each.

`zipfile` reads a member through `ZipFile.open`: a shared file handle, the local header read
and checked, a `ZipExtFile` and its buffered reads. For the small members of an OSV archive
that machinery costs as much as the inflating: the 18,050 members of the shared snapshot's
JSON sources as osv.dev publishes them (`bench/vulndb.py`) took 0.355 CPU-s to read through
`zipfile`, 0.201 here (the least of five rounds; the same bytes).

Only a member that `zipfile` would read without a word is read here: stored or deflated, not
encrypted, its local header naming it as the directory does, its bytes inside its own span of
the archive, inflating to exactly its declared size and CRC. For any other member `read`
gives None and the caller reads it through `zipfile`, which says what is wrong with it as
before. What is read is bounded as `zipfile` bounds it: a member declared larger than the cap
is never read here, and inflating stops one byte past the cap.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from collections.abc import Sequence

_LOCAL_HEADER = struct.Struct("<4s22xHH")
"""A local file header's signature and its name and extra field lengths (APPNOTE 4.3.7)."""
_LOCAL_SIGNATURE = b"PK\x03\x04"
_NOT_PLAIN = 0x1 | 0x20 | 0x40
"""Encrypted, patched data, strong encryption: left to `zipfile`."""
_UTF8_NAME = 0x800
_SLACK = 1 << 16
"""Bytes a deflated member may take beyond its size (deflate's worst case adds 5 bytes per
16 KB block): a member declaring more is left to `zipfile`, which reads it as a stream."""


class MemberReader:
    """Positioned reads of one archive's members: `entries` is every entry of the archive (a
    member's span ends where the next entry starts) and `directory_at` where its central
    directory starts (the last member's span ends there). The archive is opened at the first
    read; a member it cannot be opened for is left to `zipfile`."""

    def __init__(
        self, path: str, entries: Sequence[zipfile.ZipInfo] = (), directory_at: int = 0
    ) -> None:
        self._path = path
        self._file: io.FileIO | None = None
        """The archive once opened: a file object, so that a reader dropped without `close`
        does not leave its descriptor open."""
        self._span_end = span_ends(entries, directory_at)

    def read(self, info: zipfile.ZipInfo, max_bytes: int) -> bytes | None:
        """The member's bytes, or None where `zipfile` must read it (or refuse it)."""
        return self.read_span(info, max_bytes, self._span_end.get(info.header_offset))

    def read_span(
        self, info: zipfile.ZipInfo, max_bytes: int, span_end: int | None
    ) -> bytes | None:
        """`read`, the member's span ending at `span_end` (`span_ends`, worked out by whoever
        listed the archive)."""
        size, packed = info.file_size, info.compress_size
        if span_end is None or info.flag_bits & _NOT_PLAIN or size > max_bytes:
            return None
        method = info.compress_type
        if not (
            (method == zipfile.ZIP_STORED and packed == size)
            or (method == zipfile.ZIP_DEFLATED and packed <= size + _SLACK)
        ):
            return None
        if self._file is None:
            try:
                self._file = io.FileIO(self._path, "r")
            except OSError:
                return None  # tried again for the next member; `zipfile` says what it is
        try:
            return self._read(self._file.fileno(), info, method, max_bytes, span_end)
        except (OSError, UnicodeError):  # a negative offset, say: `zipfile` says what it is
            return None

    @staticmethod
    def _read(
        fd: int, info: zipfile.ZipInfo, method: int, max_bytes: int, span_end: int
    ) -> bytes | None:
        size, packed = info.file_size, info.compress_size
        name = info.orig_filename.encode("utf-8" if info.flag_bits & _UTF8_NAME else "cp437")
        at = info.header_offset
        header = os.pread(fd, _LOCAL_HEADER.size + len(name), at)
        if len(header) != _LOCAL_HEADER.size + len(name):
            return None
        signature, name_length, extra_length = _LOCAL_HEADER.unpack_from(header)
        if signature != _LOCAL_SIGNATURE or name_length != len(name):
            return None
        if header[_LOCAL_HEADER.size :] != name:
            return None
        start = at + _LOCAL_HEADER.size + name_length + extra_length
        if start + packed > span_end:  # overlapping another entry
            return None
        raw = os.pread(fd, packed, start)
        if len(raw) != packed:
            return None
        if method == zipfile.ZIP_STORED:
            data = raw
        else:
            inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                data = inflater.decompress(raw, max_bytes + 1)
            except zlib.error:
                return None
            if not inflater.eof or inflater.unconsumed_tail or inflater.unused_data:
                return None
        if len(data) != size or zlib.crc32(data) != info.CRC:
            return None
        return data

    def close(self) -> None:
        """Close the archive, if it was opened."""
        if self._file is not None:
            self._file.close()
        self._file = None


def span_ends(entries: Sequence[zipfile.ZipInfo], directory_at: int) -> dict[int, int]:
    """Where each entry's bytes must end, by the offset of its local header: where the next
    entry starts, or the central directory (`directory_at`) for the last."""
    starts = sorted({info.header_offset for info in entries})
    if not starts:
        return {}
    return dict(zip(starts, [*starts[1:], directory_at], strict=True))
