"""The three rpmdb containers, read from bytes in memory, each yielding header blobs.

* sqlite (`rpmdb.sqlite`, rpm >= 4.16): table `Packages(hnum, blob)`. Read with sqlite3's
  `deserialize` (no temp file); a WAL-mode header is flipped to rollback mode first, because a
  deserialized database cannot use a WAL.
* Berkeley DB hash (`Packages`, rpm < 4.16): the hash pages' data items, inline (H_KEYDATA) or
  in overflow page chains (H_OFFPAGE). Layout from Berkeley DB's `dbinc/db_page.h`.
* NDB (`Packages.db`, SUSE): slot pages then blobs, as in rpm's `lib/backend/ndb/rpmpkg.c`.

Every offset is bounds-checked; loops over page chains are bounded by the page count, so a
corrupt or cyclic database raises `RpmDbCorrupt` instead of hanging.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from dockwatch.catalog.cataloger import CatalogError


class RpmDbCorrupt(CatalogError):
    """An rpm database cannot be read."""

    def __init__(self, fmt: str, reason: str) -> None:
        super().__init__(f"corrupt rpm database ({fmt}): {reason}")
        self.format = fmt
        self.reason = reason


SQLITE_MAGIC = b"SQLite format 3\0"
NDB_MAGIC = b"RpmP"


def detect(data: bytes) -> str | None:
    """`sqlite`, `ndb`, `bdb` or None, from the first bytes."""
    if data.startswith(SQLITE_MAGIC):
        return "sqlite"
    if data.startswith(NDB_MAGIC):
        return "ndb"
    if len(data) >= 16 and struct.unpack_from("<I", data, 12)[0] in (
        BDB_HASH_MAGIC,
        _swap(BDB_HASH_MAGIC),
    ):
        return "bdb"
    return None


def header_blobs(data: bytes) -> Iterator[bytes]:
    """Every package header blob in an rpmdb of any supported format."""
    fmt = detect(data)
    if fmt == "sqlite":
        yield from sqlite_blobs(data)
    elif fmt == "ndb":
        yield from ndb_blobs(data)
    elif fmt == "bdb":
        yield from bdb_blobs(data)
    else:
        raise RpmDbCorrupt("unknown", "not sqlite, Berkeley DB hash or NDB")


# ------------------------------------------------------------------ sqlite


def sqlite_blobs(data: bytes) -> Iterator[bytes]:
    """Header blobs of an rpm sqlite database, read in memory."""
    import sqlite3  # only for rpm >= 4.16 databases

    image = bytearray(data)
    if len(image) >= 20 and image[18:20] == b"\x02\x02":
        image[18:20] = b"\x01\x01"  # WAL -> rollback journal: deserialize cannot map a WAL
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(bytes(image))
        rows = conn.execute("SELECT blob FROM Packages ORDER BY hnum").fetchall()
    except sqlite3.DatabaseError as exc:
        raise RpmDbCorrupt("sqlite", str(exc)) from exc
    finally:
        conn.close()
    for (blob,) in rows:
        if isinstance(blob, bytes):
            yield blob


# ------------------------------------------------------------------ Berkeley DB hash

BDB_HASH_MAGIC = 0x061561
_P_OVERFLOW, _P_HASHMETA, _P_HASH, _P_HASH_UNSORTED = 7, 8, 13, 2
_H_KEYDATA, _H_DUPLICATE, _H_OFFPAGE = 1, 2, 3
_PAGE_HEADER = 26


def _swap(value: int) -> int:
    return int.from_bytes(value.to_bytes(4, "little"), "big")


def bdb_blobs(data: bytes) -> Iterator[bytes]:
    """Data items of a Berkeley DB hash database (keys are package numbers, skipped)."""
    if len(data) < 512:
        raise RpmDbCorrupt("bdb", "shorter than a metadata page")
    order = "<" if struct.unpack_from("<I", data, 12)[0] == BDB_HASH_MAGIC else ">"
    page_size = struct.unpack_from(order + "I", data, 20)[0]
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        raise RpmDbCorrupt("bdb", f"bad page size {page_size}")
    pages = len(data) // page_size
    for pgno in range(1, pages):
        base = pgno * page_size
        kind = data[base + 25]
        if kind not in (_P_HASH, _P_HASH_UNSORTED):
            continue
        entries = struct.unpack_from(order + "H", data, base + 20)[0]
        if _PAGE_HEADER + 2 * entries > page_size:
            raise RpmDbCorrupt("bdb", f"page {pgno} claims {entries} entries")
        offsets = struct.unpack_from(f"{order}{entries}H", data, base + _PAGE_HEADER)
        # Items come in (key, data) pairs; data items have odd indexes.
        for i in range(1, entries, 2):
            start = offsets[i]
            if not _PAGE_HEADER <= start < page_size:
                raise RpmDbCorrupt("bdb", f"page {pgno} item {i} out of the page")
            item = base + start
            item_type = data[item]
            if item_type == _H_OFFPAGE:
                first, total = struct.unpack_from(order + "II", data, item + 4)
                yield _overflow(data, order, page_size, pages, first, total)
            elif item_type == _H_KEYDATA:
                end = offsets[i - 1] if offsets[i - 1] > start else page_size
                yield data[item + 1 : base + end]


def _overflow(data: bytes, order: str, page_size: int, pages: int, pgno: int, total: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    for _ in range(pages):
        if not 0 < pgno < pages:
            raise RpmDbCorrupt("bdb", f"overflow chain leaves the file at page {pgno}")
        base = pgno * page_size
        if data[base + 25] != _P_OVERFLOW:
            raise RpmDbCorrupt("bdb", f"page {pgno} in an overflow chain is not an overflow page")
        used = struct.unpack_from(order + "H", data, base + 22)[0]
        if used > page_size - _PAGE_HEADER:
            raise RpmDbCorrupt("bdb", f"overflow page {pgno} claims {used} bytes")
        parts.append(data[base + _PAGE_HEADER : base + _PAGE_HEADER + used])
        got += used
        pgno = struct.unpack_from(order + "I", data, base + 16)[0]
        if pgno == 0 or got >= total:
            break
    else:
        raise RpmDbCorrupt("bdb", "overflow chain loops")
    if got != total:
        raise RpmDbCorrupt("bdb", f"overflow chain holds {got} of {total} bytes")
    return b"".join(parts)


# ------------------------------------------------------------------ NDB

NDB_PAGE = 4096
NDB_BLOCK = 16
NDB_HEADER = 32
SLOT_MAGIC = b"Slot"
BLOB_HEAD_MAGIC = b"BlbS"
BLOB_TAIL_MAGIC = b"BlbE"


def ndb_blobs(data: bytes) -> Iterator[bytes]:
    """Header blobs of an NDB `Packages.db` (all integers little-endian)."""
    if len(data) < NDB_HEADER:
        raise RpmDbCorrupt("ndb", "shorter than its header")
    _magic, version, _generation, slot_pages = struct.unpack_from("<4sIII", data, 0)
    if version != 0:
        raise RpmDbCorrupt("ndb", f"unknown version {version}")
    if slot_pages == 0 or slot_pages * NDB_PAGE > len(data):
        raise RpmDbCorrupt("ndb", f"{slot_pages} slot pages do not fit in {len(data)} bytes")
    for offset in range(NDB_HEADER, slot_pages * NDB_PAGE, 16):
        magic, pkgidx, blkoff, blkcnt = struct.unpack_from("<4sIII", data, offset)
        if magic != SLOT_MAGIC:
            raise RpmDbCorrupt("ndb", f"bad slot magic at {offset}")
        if blkoff == 0:
            continue
        start, end = blkoff * NDB_BLOCK, (blkoff + blkcnt) * NDB_BLOCK
        if blkoff < slot_pages * NDB_PAGE // NDB_BLOCK or end > len(data) or end - start < 28:
            raise RpmDbCorrupt("ndb", f"slot for package {pkgidx} points outside the file")
        head_magic, head_idx, _gen, length = struct.unpack_from("<4sIII", data, start)
        if (
            head_magic != BLOB_HEAD_MAGIC
            or head_idx != pkgidx
            or blkcnt != (16 + length + 12 + 15) // 16
        ):
            raise RpmDbCorrupt("ndb", f"bad blob header for package {pkgidx}")
        blob = data[start + 16 : start + 16 + length]
        adler, tail_len, tail_magic = struct.unpack_from("<II4s", data, end - 12)
        if tail_magic != BLOB_TAIL_MAGIC or tail_len != length:
            raise RpmDbCorrupt("ndb", f"bad blob tail for package {pkgidx}")
        # The checksum covers head, blob and zero padding up to the tail.
        if zlib.adler32(data[start : end - 12]) != adler:
            raise RpmDbCorrupt("ndb", f"checksum mismatch for package {pkgidx}")
        yield blob
