"""The match index persisted next to the database, so a server starts without re-reading and
re-preparing every affected entry.

One file per data folder (each process of a scale-out keeps its own): a header naming the
database version it holds and that version's creation time, then one blob per package key
(the key's affected entries, serialized as stored). Opening it reads the header and slices the
body; entries are decoded and prepared only when a key is first looked up. A file whose
checksum (CRC-32 of the body: the file sits in the data folder, trusted like the database next
to it, so the check is for damage, not tampering), layout or version stamp does not check out is never used: the caller rebuilds from the database
and writes a new one. Writes go to a temporary file that replaces the old one in one step.
"""

from __future__ import annotations

import logging
import os
import struct
import tempfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from dockwatch.storage.vuln_repo import AffectedDocument

logger = logging.getLogger(__name__)

Key = tuple[str, str]

MAGIC = b"dockwatch-match-index\n"
FORMAT = 1
"""Bumped whenever the blob layout or what an entry means changes: older files are rebuilt."""
_LENGTH = struct.Struct(">Q")


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Packed:
    """Every key's serialized entries ([[source, advisory id, entry], ...]) in one buffer, and
    a table from `table_key` to (offset, size, entry count) in it: the file's body and header
    as they are, so opening the file builds nothing per key."""

    body: bytes | memoryview
    table: dict[str, list[int]]

    def blob(self, ecosystem: str, name: str) -> bytes | memoryview | None:
        """The serialized entries of a key, None when the database has none."""
        found = self.table.get(table_key(ecosystem, name))
        if found is None:
            return None
        offset, size, _count = found
        return self.body[offset : offset + size]

    def entry_count(self) -> int:
        """How many affected entries the buffer holds."""
        return sum(count for _o, _s, count in self.table.values())


EMPTY = Packed(b"", {})


def documents_by_key(documents: Iterable[AffectedDocument]) -> dict[str, tuple[bytes, int]]:
    """Serialized entries per table key from stored affected entries, a key's entries in
    (source, advisory id) order so a build is the same whatever order rows come in."""
    grouped: dict[Key, list[tuple[str, str, bytes]]] = {}
    for eco, name, source, aid, entry in documents:
        grouped.setdefault((eco, name), []).append((source, aid, entry))
    out: dict[str, tuple[bytes, int]] = {}
    for (eco, name), rows in grouped.items():
        rows.sort(key=lambda r: (r[0], r[1]))
        parts = [
            b"[" + orjson.dumps(source) + b"," + orjson.dumps(aid) + b"," + entry + b"]"
            for source, aid, entry in rows
        ]
        out[table_key(eco, name)] = (b"[" + b",".join(parts) + b"]", len(rows))
    return out


def pack(base: Packed, changed: Iterable[Key], fresh: Mapping[str, tuple[bytes, int]]) -> Packed:
    """`base` with the keys in `changed` replaced by `fresh` (a key absent there is dropped)."""
    drop = {table_key(eco, name) for eco, name in changed}
    body = bytearray()
    table: dict[str, list[int]] = {}
    for key, (offset, size, count) in base.table.items():
        if key not in drop:
            table[key] = [len(body), size, count]
            body += base.body[offset : offset + size]
    for key, (data, count) in fresh.items():
        table[key] = [len(body), len(data), count]
        body += data
    return Packed(bytes(body), table)


def decode_blob(data: bytes | memoryview) -> list[tuple[str, str, dict[str, object]]]:
    """(source, advisory id, entry) of one key's serialized entries."""
    return [(str(s), str(a), dict(e)) for s, a, e in orjson.loads(data)]


def write(path: Path, stamp: Stamp, packed: Packed) -> None:
    """Persist `packed` as of `stamp`, replacing any previous file in one step."""
    header = orjson.dumps(
        {
            "format": FORMAT,
            "version": stamp.version,
            "createdAt": stamp.created_at,
            "crc32": zlib.crc32(packed.body),
            "size": len(packed.body),
            "table": packed.table,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC)
            out.write(_LENGTH.pack(len(header)))
            out.write(header)
            out.write(packed.body)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read(path: Path) -> tuple[Stamp, Packed]:
    """The persisted index at `path`. Raises IndexFileError when it is absent, of another
    format, truncated or corrupt: a file is used whole and checked, or not at all."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise IndexFileError("no persisted index") from exc
    except OSError as exc:
        raise IndexFileError(f"unreadable: {exc}") from exc
    if not data.startswith(MAGIC):
        raise IndexFileError("not a match index file")
    start = len(MAGIC) + _LENGTH.size
    if len(data) < start:
        raise IndexFileError("truncated header")
    (length,) = _LENGTH.unpack_from(data, len(MAGIC))
    if start + length > len(data):
        raise IndexFileError("truncated header")
    body = memoryview(data)[start + length :]
    try:
        header = orjson.loads(data[start : start + length])
        if header["format"] != FORMAT:
            raise IndexFileError(f"format {header['format']}, this version reads {FORMAT}")
        stamp = Stamp(int(header["version"]), str(header["createdAt"]))
        if header["size"] != len(body) or zlib.crc32(body) != header["crc32"]:
            raise IndexFileError("body does not match its checksum")
        table = header["table"]
        size = len(body)
        if not isinstance(table, dict) or not all(
            type(o) is int and type(n) is int and type(c) is int and 0 <= o <= o + n <= size
            for o, n, c in table.values()
        ):
            raise IndexFileError("a key points outside the body")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise IndexFileError(f"unreadable header: {exc}") from exc
    return stamp, Packed(body, table)
