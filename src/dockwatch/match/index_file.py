"""The match index persisted next to the database, so a server starts without re-reading and
re-preparing every affected entry.

One file per data folder (each process of a scale-out keeps its own): a header naming the
database version it holds and that version's creation time, then one blob per package key
(the key's affected entries, serialized as stored). Opening it reads the header and slices the
body; entries are decoded and prepared only when a key is first looked up. A file whose digest,
layout or version stamp does not check out is never used: the caller rebuilds from the database
and writes a new one. Writes go to a temporary file that replaces the old one in one step.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import tempfile
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


@dataclass(frozen=True, slots=True)
class Blob:
    """One package key's affected entries, serialized: [[source, advisory id, entry], ...]."""

    data: bytes
    count: int


@dataclass(frozen=True, slots=True)
class Loaded:
    """A persisted index that checked out."""

    stamp: Stamp
    blobs: dict[Key, Blob]


class IndexFileError(Exception):
    """Why a persisted index cannot be used (it is then rebuilt, never trusted)."""


def blobs_from_documents(documents: Iterable[AffectedDocument]) -> dict[Key, Blob]:
    """Blobs per key from stored affected entries, entries of a key in (source, advisory id)
    order so a build is the same whatever order the database returns rows in."""
    grouped: dict[Key, list[tuple[str, str, bytes]]] = {}
    for eco, name, source, aid, entry in documents:
        grouped.setdefault((eco, name), []).append((source, aid, entry))
    out: dict[Key, Blob] = {}
    for key, rows in grouped.items():
        rows.sort(key=lambda r: (r[0], r[1]))
        parts = [
            b"[" + orjson.dumps(source) + b"," + orjson.dumps(aid) + b"," + entry + b"]"
            for source, aid, entry in rows
        ]
        out[key] = Blob(b"[" + b",".join(parts) + b"]", len(rows))
    return out


def decode_blob(blob: Blob) -> list[tuple[str, str, dict[str, object]]]:
    """(source, advisory id, entry) of a blob."""
    return [(str(s), str(a), dict(e)) for s, a, e in orjson.loads(blob.data)]


def write(path: Path, stamp: Stamp, blobs: Mapping[Key, Blob]) -> None:
    """Persist `blobs` as of `stamp`, replacing any previous file in one step."""
    keys = []
    body = bytearray()
    for (eco, name), blob in blobs.items():
        keys.append([eco, name, len(body), len(blob.data), blob.count])
        body += blob.data
    header = orjson.dumps(
        {
            "format": FORMAT,
            "version": stamp.version,
            "createdAt": stamp.created_at,
            "digest": hashlib.blake2b(body, digest_size=32).hexdigest(),
            "keys": keys,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC)
            out.write(_LENGTH.pack(len(header)))
            out.write(header)
            out.write(body)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read(path: Path) -> Loaded:
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
    try:
        header = orjson.loads(data[start : start + length])
        if header["format"] != FORMAT:
            raise IndexFileError(f"format {header['format']}, this version reads {FORMAT}")
        stamp = Stamp(int(header["version"]), str(header["createdAt"]))
        digest = str(header["digest"])
        keys = header["keys"]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise IndexFileError(f"unreadable header: {exc}") from exc
    body = memoryview(data)[start + length :]
    if hashlib.blake2b(body, digest_size=32).hexdigest() != digest:
        raise IndexFileError("body does not match its digest")
    blobs: dict[Key, Blob] = {}
    try:
        for eco, name, offset, size, count in keys:
            if offset < 0 or size < 0 or offset + size > len(body):
                raise IndexFileError("a key points outside the body")
            blobs[(str(eco), str(name))] = Blob(bytes(body[offset : offset + size]), int(count))
    except (TypeError, ValueError) as exc:
        raise IndexFileError(f"unreadable key table: {exc}") from exc
    return Loaded(stamp, blobs)
