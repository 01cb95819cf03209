"""The match index persisted next to the database, so a server starts without re-reading and
re-preparing every affected entry, and a start after a delta costs what the delta changed.

One file per data folder (each process of a scale-out keeps its own): a base segment holding
every package key's affected entries (serialized as stored) as of one database version, then
zero or more delta segments, each naming the state it follows and holding the new entries of
the keys a delta changed (or their removal). Each segment has a header (the database version
and that version's creation time, the state it follows, a CRC-32 of its body, a table from key
to (offset, size, entry count) in its body, which the CRC-32 covers with the body) and its body. Opening memory-maps the file, checks
every segment and chains the tables; entries are decoded and prepared only when a key is first
looked up. A file whose checksum (the file sits in the data folder, trusted like the database
next to it, so the check is for damage, not tampering), layout, chain or version stamp does not
check out is never used, not even in part: the caller rebuilds from the database and writes a
new one. A full write goes to a temporary file that replaces the old one in one step; a delta
is appended as one segment under a lock, and the file is rewritten whole once the appended
segments pass half the base (so a start reads at most one and a half times the live data).
The file is only ever replaced or appended to, never cut short in place, so a mapping of it
stays valid for as long as an index uses it.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import struct
import tempfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from dockwatch.storage.vuln_repo import AffectedDocument
from dockwatch.value_class import frozen

logger = logging.getLogger(__name__)

Key = tuple[str, str]
Blob = tuple[bytes, int]
"""A key's serialized entries and how many entries they are."""

MAGIC = b"dockwatch-match-index\n"
FORMAT = 2
"""Bumped whenever the layout or what an entry means changes: older files are rebuilt."""
_PREFIX = struct.Struct(">QQQ")
"""Each segment starts with the lengths of its stamp, its table and its body."""
MAX_SEGMENTS = 32
"""Delta segments a file may hold before it is rewritten whole."""
MIN_APPEND = 256 * 1024
"""Appended bytes always allowed, however small the base (beyond it: half the base)."""


@frozen
class Stamp:
    """Which database state a file holds: its version and when that version was made."""

    version: int
    created_at: str
    """ISO time of the version's creation ("" for version 0): two databases that reached the
    same version number at different times are different databases."""


class IndexFileError(Exception):
    """Why a persisted index cannot be used (it is then rebuilt, never trusted)."""


def table_key(ecosystem: str, name: str) -> str:
    """A package key as the table spells it (JSON, so no name can run into another)."""
    return orjson.dumps((ecosystem, name)).decode()


@frozen
class Packed:
    """Every key's serialized entries ([[source, advisory id, entry], ...]): a buffer and a
    table from `table_key` to (offset, size, entry count) in it (the file as mapped, so opening
    builds nothing per key), plus `loose` blobs of keys changed since, which take precedence.
    A patch copies the table (not the buffer) and adds the changed keys' blobs."""

    body: bytes | memoryview
    table: dict[str, list[int]]
    loose: dict[str, Blob] = field(default_factory=dict)

    def blob(self, ecosystem: str, name: str) -> bytes | memoryview | None:
        """The serialized entries of a key, None when the database has none."""
        key = table_key(ecosystem, name)
        fresh = self.loose.get(key)
        if fresh is not None:
            return fresh[0]
        found = self.table.get(key)
        if found is None:
            return None
        offset, size, _count = found
        return self.body[offset : offset + size]

    def key_count(self) -> int:
        """How many package keys have entries."""
        return len(self.table) + len(self.loose)

    def entry_count(self) -> int:
        """How many affected entries the index holds."""
        return sum(c for _o, _s, c in self.table.values()) + sum(c for _b, c in self.loose.values())


EMPTY = Packed(b"", {})


def documents_by_key(documents: Iterable[AffectedDocument]) -> dict[str, Blob]:
    """Serialized entries per table key from stored affected entries, a key's entries in
    (source, advisory id) order so a build is the same whatever order rows come in."""
    grouped: dict[Key, list[tuple[str, str, bytes]]] = {}
    for eco, name, source, aid, entry in documents:
        grouped.setdefault((eco, name), []).append((source, aid, entry))
    out: dict[str, Blob] = {}
    dumps = orjson.dumps
    for (eco, name), rows in grouped.items():
        rows.sort(key=lambda r: (r[0], r[1]))
        parts = [
            b"[" + dumps(source) + b"," + dumps(aid) + b"," + entry + b"]"
            for source, aid, entry in rows
        ]
        out[table_key(eco, name)] = (b"[" + b",".join(parts) + b"]", len(rows))
    return out


def changes_for(changed: Iterable[Key], fresh: Mapping[str, Blob]) -> dict[str, Blob | None]:
    """What a delta did to the index: each changed key's new blob, None where it has none."""
    return {k: fresh.get(k) for k in (table_key(eco, name) for eco, name in changed)}


def pack(base: Packed, changes: Mapping[str, Blob | None]) -> Packed:
    """`base` with `changes` applied (a key whose change is None is dropped). Costs what
    changed plus a copy of the table, never a copy of the buffer."""
    table = dict(base.table)
    loose = dict(base.loose)
    for key, blob in changes.items():
        table.pop(key, None)
        if blob is None:
            loose.pop(key, None)
        else:
            loose[key] = blob
    return Packed(base.body, table, loose)


def build(fresh: Mapping[str, Blob]) -> Packed:
    """One buffer and its table from every key's blob (a full build)."""
    return _concat(fresh.items())


def compact(packed: Packed) -> Packed:
    """`packed` as one buffer (what a full write stores)."""
    if not packed.loose:
        return packed
    body = packed.body

    def blobs() -> Iterable[tuple[str, Blob]]:
        for key, (offset, size, count) in packed.table.items():
            yield key, (bytes(body[offset : offset + size]), count)
        yield from packed.loose.items()

    return _concat(blobs())


def _concat(blobs: Iterable[tuple[str, Blob]]) -> Packed:
    parts: list[bytes] = []
    table: dict[str, list[int]] = {}
    at = 0
    for key, (data, count) in blobs:
        table[key] = [at, len(data), count]
        parts.append(data)
        at += len(data)
    return Packed(b"".join(parts), table)


def decode_blob(data: bytes | memoryview) -> list[tuple[str, str, dict[str, object]]]:
    """(source, advisory id, entry) of one key's serialized entries."""
    return [(str(s), str(a), dict(e)) for s, a, e in orjson.loads(data)]


def _segment(
    stamp: Stamp,
    after: Stamp | None,
    table: Mapping[str, list[int] | None],
    body: bytes | memoryview,
) -> bytes:
    listed = orjson.dumps(table)
    meta = orjson.dumps(
        {
            "format": FORMAT,
            "version": stamp.version,
            "createdAt": stamp.created_at,
            "after": None if after is None else [after.version, after.created_at],
            "crc32": zlib.crc32(body, zlib.crc32(listed)),
        }
    )
    return b"".join((_PREFIX.pack(len(meta), len(listed), len(body)), meta, listed, body))


def write(path: Path, stamp: Stamp, packed: Packed) -> None:
    """Persist `packed` whole as of `stamp`, replacing any previous file in one step."""
    whole = compact(packed)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC)
            out.write(_segment(stamp, None, whole.table, whole.body))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def append(path: Path, after: Stamp, stamp: Stamp, changes: Mapping[str, Blob | None]) -> bool:
    """Append one delta segment taking the file from `after` to `stamp`. False (nothing
    written) when the file does not hold `after` or is due for a full rewrite."""
    table: dict[str, list[int] | None] = {}
    parts: list[bytes] = []
    at = 0
    for key, blob in changes.items():
        if blob is None:
            table[key] = None
            continue
        data, count = blob
        table[key] = [at, len(data), count]
        parts.append(data)
        at += len(data)
    segment = _segment(stamp, after, table, b"".join(parts))
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # two appenders must not interleave their bytes
        segments = _segments_of(fd)
        if segments is None or len(segments) > MAX_SEGMENTS:
            return False
        (_s, base_end, _m), (last_start, end, meta_len) = segments[0], segments[-1]
        if end != os.fstat(fd).st_size:
            return False
        appended = end - base_end + len(segment)
        if appended > max(MIN_APPEND, (base_end - len(MAGIC)) // 2):
            return False
        header = orjson.loads(os.pread(fd, meta_len, last_start + _PREFIX.size))
        if [header.get("version"), header.get("createdAt")] != [after.version, after.created_at]:
            return False
        view = memoryview(segment)
        while view:
            view = view[os.write(fd, view) :]
        return True
    except (OSError, orjson.JSONDecodeError):
        return False
    finally:
        os.close(fd)


def _segments_of(fd: int) -> list[tuple[int, int, int]] | None:
    """(start, end, stamp length) of each segment of an open file, None if it is not whole."""
    if os.pread(fd, len(MAGIC), 0) != MAGIC:
        return None
    size = os.fstat(fd).st_size
    out = []
    pos = len(MAGIC)
    while pos < size:
        prefix = os.pread(fd, _PREFIX.size, pos)
        if len(prefix) < _PREFIX.size:
            return None
        meta_len, table_len, body_len = _PREFIX.unpack(prefix)
        end = pos + _PREFIX.size + meta_len + table_len + body_len
        if end > size:
            return None
        out.append((pos, end, meta_len))
        pos = end
    return out or None


def read(path: Path) -> tuple[Stamp, Packed]:
    """The persisted index at `path`. Raises IndexFileError when it is absent, of another
    format, truncated, corrupt or broken in its chain: a file is used whole and checked, or
    not at all."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < len(MAGIC):
                raise IndexFileError("not a match index file")
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError as exc:
        raise IndexFileError("no persisted index") from exc
    except (OSError, ValueError) as exc:
        raise IndexFileError(f"unreadable: {exc}") from exc
    data = memoryview(mapped)
    if data[: len(MAGIC)] != MAGIC:
        raise IndexFileError("not a match index file")
    try:
        return _chain(data)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise IndexFileError(f"unreadable header: {exc}") from exc


def _chain(data: memoryview) -> tuple[Stamp, Packed]:
    """Every segment checked, in order, and their tables merged into one over the body."""
    start = pos = len(MAGIC)
    stamp: Stamp | None = None
    table: dict[str, list[int]] = {}
    while pos < len(data):
        if pos + _PREFIX.size > len(data):
            raise IndexFileError("truncated segment")
        meta_len, table_len, body_len = _PREFIX.unpack_from(data, pos)
        table_at = pos + _PREFIX.size + meta_len
        body_at = table_at + table_len
        end = body_at + body_len
        if end > len(data):
            raise IndexFileError("truncated segment")
        header = orjson.loads(data[pos + _PREFIX.size : table_at])
        if header["format"] != FORMAT:
            raise IndexFileError(f"format {header['format']}, this version reads {FORMAT}")
        after = header["after"]
        if (stamp is None) != (after is None) or (
            stamp is not None and after != [stamp.version, stamp.created_at]
        ):
            raise IndexFileError("a segment does not follow the one before it")
        listed = data[table_at:body_at]
        if zlib.crc32(data[body_at:end], zlib.crc32(listed)) != header["crc32"]:
            raise IndexFileError("table or body does not match its checksum")
        patch = orjson.loads(listed)
        if not isinstance(patch, dict):
            raise IndexFileError("no table")
        shift = body_at - start
        for key, place in patch.items():
            if place is None and stamp is not None:
                table.pop(key, None)
                continue
            if not (
                isinstance(place, list)
                and len(place) == 3
                and all(type(v) is int for v in place)
                and 0 <= place[0] <= place[0] + place[1] <= body_len
            ):
                raise IndexFileError("a key points outside its segment")
            if shift:
                place[0] += shift
            table[key] = place
        stamp = Stamp(int(header["version"]), str(header["createdAt"]))
        pos = end
    if stamp is None:
        raise IndexFileError("no segment")
    return stamp, Packed(data[start:], table)


@dataclass(slots=True)
class Persisted:
    """One process's index file and what it knows of it: the state the file holds and the
    changes made in memory since, so a save after a delta appends just those."""

    path: Path
    held: Stamp | None = None
    pending: dict[str, Blob | None] = field(default_factory=dict)

    def open(self) -> tuple[Stamp, Packed]:
        """The file's state (see `read`). Not yet taken as what the file holds: the caller
        checks it against the database first and then calls `adopt` (a file of another
        database must never get a delta appended to it)."""
        self.forget()
        return read(self.path)

    def adopt(self, stamp: Stamp) -> None:
        """The file opened was checked and is used: later deltas may be appended to it."""
        self.held, self.pending = stamp, {}

    def note(self, changes: Mapping[str, Blob | None]) -> None:
        """A delta applied in memory, to be saved."""
        self.pending.update(changes)

    def save(self, stamp: Stamp, packed: Packed) -> str:
        """Persist `packed` at `stamp`: appended as a delta when the file holds the state the
        pending changes follow, else written whole. Says which it did."""
        how = "appended"
        if self.held is None or not append(self.path, self.held, stamp, self.pending):
            write(self.path, stamp, packed)
            how = "written"
        self.held, self.pending = stamp, {}
        return how

    def forget(self) -> None:
        """The file's state is unknown (a save failed): the next save writes it whole."""
        self.held, self.pending = None, {}
