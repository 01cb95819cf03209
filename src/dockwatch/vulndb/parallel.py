"""Parsing OSV record files on every core, with the result a single process gives.

Parsing and normalizing dominate an import of a folder of records, and each file is
independent: worker processes read, parse and serialize files in order-preserving chunks and
hand back what the writer stores (`EncodedAdvisory`), each record's id and the digest of its
bytes. What depends on order, dropping a record whose id an earlier file already gave, stays in
the importer, which walks the results in file order exactly as a single process would.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import msgspec

from dockwatch.feeds import osv, osv_content, osv_typed, suse, ubuntu
from dockwatch.feeds.feed import ParseProblem
from dockwatch.model.advisory import Advisory
from dockwatch.storage.vuln_repo import EncodedAdvisory

from .service import KeyedAdvisory, encode_advisory, encode_content, package_keys_of
from .workers import run_chunks

CHUNK = 100
"""Files per chunk a worker takes: large enough that handing results back stays cheap, small
enough that a path's last files are not held up in a chunk that runs into the next path (the
importer writes a path once its last file is parsed). A full import of the shared snapshot's
JSON sources, five imports of each alternately: 0.999-1.037 s with 200 files, 0.985-1.010 s
with 100."""
MIN_FILES = 1_000
"""Below this many files a pool costs more to start than it saves."""


def osv_source(adv: Advisory) -> str:
    """OSV records are grouped by the base ecosystem they affect (`osv:PyPI`)."""
    for a in adv.affected:
        return "osv:" + a.ecosystem.split(":", 1)[0]
    prefix = adv.id.split("-", 1)[0]
    return f"osv:{prefix}"


def encode_for(source: str, adv: Advisory) -> EncodedAdvisory | None:
    """The stored form of a record of `source`; Ubuntu's and SUSE's as their feeds read them
    (Ubuntu's notices, which name no package to match, are None; SUSE's products are folded per
    release)."""
    if source == ubuntu.SOURCE:
        if ubuntu.is_notice(adv):
            return None
        adv = ubuntu.normalize(adv)
    elif source in suse.SOURCES:
        adv = suse.normalize(adv)
    return encode_advisory(adv)


@dataclass(frozen=True, slots=True)
class Parsed:
    """One record of a file: its id as parsed (what repeats are told by), the source it is
    grouped under, and its stored form (None when it is dropped)."""

    record_id: str
    source: str
    advisory: EncodedAdvisory | None


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """What one file gave, in order: problems and its record; `digests` maps the record's id
    to the digest of the file's bytes."""

    path: str
    items: tuple[ParseProblem | Parsed, ...]
    digests: dict[str, bytes]


def content_source(content: dict[str, Any]) -> str:
    """`osv_source` of a record's normalized content."""
    for a in content["affected"]:
        return "osv:" + str(a["ecosystem"]).split(":", 1)[0]
    prefix = str(content["id"]).split("-", 1)[0]
    return f"osv:{prefix}"


def parse_file(path: str, limits: osv.Limits, *, typed: bool = True) -> ParsedFile:
    """Parse and serialize one OSV record file: read straight into its stored form (a JSON
    file decoded into typed structs, `feeds.osv_typed`, unless `typed` is False), except for
    the feeds that normalize further from the model."""
    digests: osv.Seen = {}
    items: list[ParseProblem | Parsed] = []
    fast = osv_typed.read_json if typed else None
    for item in osv.iter_file_with(path, "osv", limits, digests, osv_content.read_content, fast):
        if isinstance(item, osv_content.Content):
            source = content_source(item.content)
            if source == ubuntu.SOURCE or source in suse.SOURCES:
                if item.doc is None:  # read without building the record: read it again
                    return parse_file(path, limits, typed=False)
                adv, _warnings = osv.parse_record(item.doc, "osv")  # warnings already given
                items.append(Parsed(item.id, source, encode_for(source, adv)))
            else:
                items.append(Parsed(item.id, source, encode_content(item.content, item.modified)))
        else:
            items.append(item)
    return ParsedFile(path, tuple(items), digests)


class _WireAdvisory(msgspec.Struct, array_like=True):
    """An `EncodedAdvisory` on the wire (a msgpack array). Its contents and entries come back
    as `bytearray`: the driver binds a `bytearray` at once, where a `bytes` value goes through
    `sqlite3`'s adapter lookup first (with the entries of the 18,011 advisories of the shared
    snapshot's JSON sources, inserting them took 0.090 CPU-s instead of 0.135), and decoding
    into one costs what decoding into `bytes` does."""

    id: str
    fingerprint: str
    withdrawn: bool
    modified: datetime | None
    content: bytearray
    affected: tuple[tuple[str, str, bytearray], ...]
    package_keys: tuple[tuple[str, str], ...]


class _WireRecord(msgspec.Struct, array_like=True, tag=1):
    record_id: str
    source: str
    advisory: _WireAdvisory | None


class _WireProblem(msgspec.Struct, array_like=True, tag=2):
    feed: str
    where: str
    reason: str
    record_id: str | None


class _WireFile(msgspec.Struct, array_like=True):
    """A parsed file as a worker sends it back: a chunk of them is one msgpack message
    (`msgspec`), decoded by the importer straight into these typed structs. Pickling the
    dataclasses (and their datetimes) cost 0.42 CPU-s per full import of the JSON sources,
    plain tuples 0.16; msgspec encodes in half the time pickle takes (0.045 CPU-s against
    0.090 for the 18,050 records of the shared snapshot's JSON sources), and typed decoding
    took 0.091 to 0.094 CPU-s where untyped decoding plus rebuilding from tuples took 0.104
    to 0.199."""

    path: str
    items: list[_WireRecord | _WireProblem]
    digests: dict[str, bytes]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[_WireFile])


def _to_wire(parsed: ParsedFile) -> _WireFile:
    items: list[_WireRecord | _WireProblem] = []
    for item in parsed.items:
        if isinstance(item, Parsed):
            a = item.advisory
            wired = None
            if a is not None:
                # `bytes` is sent as the same msgpack bin a `bytearray` is: not copied
                affected = cast(tuple[tuple[str, str, bytearray], ...], a.affected)
                content = cast(bytearray, a.content)
                wired = _WireAdvisory(
                    a.id,
                    a.fingerprint,
                    a.withdrawn,
                    a.modified,  # a msgpack timestamp, read back as the same UTC datetime
                    content,
                    affected,
                    a.package_keys if isinstance(a, KeyedAdvisory) else package_keys_of(affected),
                )
            items.append(_WireRecord(item.record_id, item.source, wired))
        else:
            items.append(_WireProblem(item.feed, item.where, item.reason, item.record_id))
    return _WireFile(parsed.path, items, parsed.digests)


def _from_wire(wire: _WireFile) -> ParsedFile:
    out: list[ParseProblem | Parsed] = []
    for item in wire.items:
        if type(item) is _WireProblem:
            out.append(ParseProblem(item.feed, item.where, item.reason, item.record_id))
            continue
        assert type(item) is _WireRecord
        a = item.advisory
        if a is None:
            out.append(Parsed(item.record_id, item.source, None))
            continue
        encoded = KeyedAdvisory(
            a.id, a.fingerprint, a.withdrawn, a.modified, a.content, a.affected, a.package_keys
        )
        out.append(Parsed(item.record_id, item.source, encoded))
    return ParsedFile(wire.path, tuple(out), wire.digests)


def _parse_chunk(paths: Sequence[str], limits: osv.Limits) -> bytes:
    return _encoder.encode([_to_wire(parse_file(p, limits)) for p in paths])


def _read_chunk(message: bytes) -> list[ParsedFile]:
    return [_from_wire(w) for w in _decoder.decode(message)]


def default_workers() -> int:
    """One parsing process per core."""
    return max(1, os.cpu_count() or 1)


def parse_files(
    paths: Sequence[str | os.PathLike[str]], limits: osv.Limits, workers: int | None = None
) -> Generator[ParsedFile, None, None]:
    """Every file parsed, in the order given, by `workers` processes (1: this one)."""
    names = [os.fspath(p) for p in paths]
    count = default_workers() if workers is None else workers
    if count <= 1 or len(names) < MIN_FILES:
        for name in names:
            yield parse_file(name, limits)
        return
    chunks = [names[i : i + CHUNK] for i in range(0, len(names), CHUNK)]
    for message in run_chunks(_parse_chunk, chunks, (limits,), count):
        yield from _read_chunk(message)
