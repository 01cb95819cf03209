"""Parsing OSV record files on every core, with the result a single process gives.

Parsing and normalizing dominate an import of a folder of records, and each file is
independent: worker processes read, parse and serialize files in order-preserving chunks and
hand back what the writer stores (`EncodedAdvisory`), each record's id and the digest of its
bytes. What depends on order, dropping a record whose id an earlier file already gave, stays in
the importer, which walks the results in file order exactly as a single process would.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import msgspec

from dockwatch.feeds import fields, osv, osv_content, osv_typed, suse, ubuntu
from dockwatch.feeds.feed import ParseProblem
from dockwatch.feeds.record_digest import adopt, code_identity, record_digest
from dockwatch.model.advisory import Advisory
from dockwatch.storage.vuln_repo import EncodedAdvisory, KnownRecord
from dockwatch.value_class import frozen

from .archive_members import WORKER_ARCHIVES, Archives, Member
from .service import KeyedAdvisory, encode_advisory, encode_content, package_keys_of
from .workers import run_chunks

logger = logging.getLogger(__name__)

CHUNK = 100
"""Files per chunk a worker takes: large enough that handing results back stays cheap, small
enough that a path's last files are not held up in a chunk that runs into the next path (the
importer writes a path once its last file is parsed). A full import of the shared snapshot's
JSON sources, five imports of each alternately: 0.999-1.037 s with 200 files, 0.985-1.010 s
with 100."""

Unit = str | Member
"""What a parsing process takes: a record file's path, or a member of an archive."""

MIN_FILES = 1_000
"""Below this many files a pool costs more to start than it saves."""

Known = Mapping[str, tuple[str, str]]
"""Read digest (hex) -> (advisory id, source) of the stored records an import need not read
again (`VulnRepo.known_records`)."""


def osv_source(adv: Advisory) -> str:
    """OSV records are grouped by the base ecosystem they affect (`osv:PyPI`)."""
    for a in adv.affected:
        return "osv:" + a.ecosystem.split(":", 1)[0]
    prefix = adv.id.split("-", 1)[0]
    return f"osv:{prefix}"


def encode_for(
    source: str, adv: Advisory, read_digest: str | None = None
) -> EncodedAdvisory | None:
    """The stored form of a record of `source`; Ubuntu's and SUSE's as their feeds read them
    (Ubuntu's notices, which name no package to match, are None; SUSE's products are folded per
    release)."""
    if source == ubuntu.SOURCE:
        if ubuntu.is_notice(adv):
            return None
        adv = ubuntu.normalize(adv)
    elif source in suse.SOURCES:
        adv = suse.normalize(adv)
    return encode_advisory(adv, read_digest)


@frozen
class Parsed:
    """One record of a file: its id as parsed (what repeats are told by), the source it is
    grouped under, and its stored form (None when it is dropped; a `KnownRecord` when the same
    bytes were stored before, and not read again)."""

    record_id: str
    source: str
    advisory: EncodedAdvisory | KnownRecord | None


@frozen
class ParsedFile:
    """What one file or archive member gave, in order: problems and its record; `digests`
    maps the record's id to the digest of the file's bytes; `size` is how many bytes of an
    archive it expanded to (an archive's total is capped)."""

    path: str
    items: tuple[ParseProblem | Parsed, ...]
    digests: dict[str, bytes]
    size: int = 0


def content_source(content: dict[str, Any]) -> str:
    """`osv_source` of a record's normalized content."""
    for a in content["affected"]:
        return "osv:" + str(a["ecosystem"]).split(":", 1)[0]
    prefix = str(content["id"]).split("-", 1)[0]
    return f"osv:{prefix}"


def parse_file(
    path: str, limits: osv.Limits, *, source: str | None = None, typed: bool = True
) -> ParsedFile:
    """Parse and serialize one OSV record file: read straight into its stored form (a JSON
    file decoded into typed structs, `feeds.osv_typed`, unless `typed` is False), except for
    the feeds that normalize further from the model. Records are grouped by what they
    affect (`content_source`), or all under `source` when one is given (a feed's: Ubuntu's
    and SUSE's are normalized as their feeds do)."""
    digests: osv.Seen = {}
    fast = osv_typed.read_json if typed else None
    reader = osv_content.read_content
    items = osv.iter_file_with(path, source or "osv", limits, digests, reader, fast)
    parsed = _collect(path, items, digests, source)
    return parsed if parsed is not None else parse_file(path, limits, source=source, typed=False)


def parse_data(
    data: bytes,
    member: Member,
    limits: osv.Limits,
    *,
    source: str | None = None,
) -> ParsedFile:
    """`parse_file` of an archive member's bytes."""
    return _parse_bytes(data, member.name.lower(), member.where, limits, source, len(data))


def _parse_bytes(
    data: bytes,
    name: str,
    where: str,
    limits: osv.Limits,
    source: str | None,
    size: int,
    typed: bool = True,
    digest: bytes | None = None,
) -> ParsedFile:
    digests: osv.Seen = {}
    fast = osv_typed.read_json if typed else None
    reader = osv_content.read_content
    grouping = source or "osv"
    items = osv.iter_bytes_with(data, name, where, grouping, limits, digests, reader, fast, digest)
    parsed = _collect(where, items, digests, source, size)
    if parsed is None:
        return _parse_bytes(data, name, where, limits, source, size, False, digest)
    return parsed


def _read_unless_known(
    data: bytes,
    name: str,
    where: str,
    limits: osv.Limits,
    source: str | None,
    size: int,
    known: Known,
) -> ParsedFile:
    """What a file's `data` gave: when the same bytes, read for the same source by this
    build, gave a stored advisory (`feeds.record_digest`), its id, not read again."""
    digest = record_digest(data, source or "osv")
    found = known.get(digest.hex())
    if found is None:
        return _parse_bytes(data, name, where, limits, source, size, digest=digest)
    record_id, stored_source = found
    item = Parsed(record_id, stored_source, KnownRecord(record_id, digest.hex()))
    return ParsedFile(where, (item,), {record_id: digest}, size)


def _parse_known_file(
    path: str, limits: osv.Limits, source: str | None, known: Known
) -> ParsedFile:
    """`parse_file`, unless the file's bytes are `known`."""
    name = os.path.basename(path).lower()
    if not name.endswith(osv.RECORD_SUFFIXES):
        return parse_file(path, limits, source=source)
    try:
        data = fields.read_bounded(path, limits.max_record_bytes)
    except (fields.TooBig, OSError):  # as `parse_file` reports it
        return parse_file(path, limits, source=source)
    return _read_unless_known(data, name, path, limits, source, 0, known)


def _collect(
    where: str,
    items: Iterable[osv_content.Content | ParseProblem],
    digests: dict[str, bytes],
    source: str | None,
    size: int = 0,
) -> ParsedFile | None:
    """The items of one file, serialized; None when a record of the feeds that normalize
    from the model was read without building it (then it is read again, untyped)."""
    out: list[ParseProblem | Parsed] = []
    for item in items:
        if not isinstance(item, osv_content.Content):
            out.append(item)
            continue
        # a file gives one record, after its warnings: one read without any is known by the
        # digest of its bytes from now on (a record with warnings is read again each time, so
        # that each import reports them)
        digest = digests.get(item.id)
        read_digest = digest.hex() if digest is not None and not out else None
        # a feed's records all go under its name
        grouped = content_source(item.content) if source is None else source
        if grouped == ubuntu.SOURCE or grouped in suse.SOURCES:
            if item.doc is None:
                return None
            adv, _warnings = osv.parse_record(item.doc, source or "osv")  # warnings given
            out.append(Parsed(item.id, grouped, encode_for(grouped, adv, read_digest)))
        else:
            encoded = encode_content(item.content, item.modified, read_digest)
            out.append(Parsed(item.id, grouped, encoded))
    return ParsedFile(where, tuple(out), digests, size)


def first_copies(
    parsed: ParsedFile, seen: osv.Seen, source: str = "osv"
) -> Iterator[ParseProblem | Parsed]:
    """A parsed file's items unless its record's id was already read (as `osv.iter_path`
    drops it: quietly when the bytes are the same, with a problem when they differ)."""
    for item in parsed.items:
        if isinstance(item, Parsed):
            digest = parsed.digests[item.record_id]
            first = seen.setdefault(item.record_id, digest)
            if first is not digest:
                if first != digest:
                    reason = f"duplicate id {item.record_id}; the first copy is kept"
                    logger.warning("osv %s: skipped %s: %s", source, parsed.path, reason)
                    yield ParseProblem(source, parsed.path, reason, item.record_id)
                return  # nor the warnings about its entries, as in one process
    yield from parsed.items


def _parse_unit(
    unit: Unit, limits: osv.Limits, source: str | None, archives: Archives, known: Known
) -> ParsedFile:
    if isinstance(unit, str):
        if known:
            return _parse_known_file(unit, limits, source, known)
        return parse_file(unit, limits, source=source)
    data = archives.read(unit, source or "osv", limits)
    if isinstance(data, ParseProblem):
        return ParsedFile(unit.where, (data,), {})
    if known:
        name = unit.name.lower()
        return _read_unless_known(data, name, unit.where, limits, source, len(data), known)
    return parse_data(data, unit, limits, source=source)


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
    read_digest: str | None
    package_keys: tuple[tuple[str, str], ...]


class _WireRecord(msgspec.Struct, array_like=True, tag=1):
    record_id: str
    source: str
    advisory: _WireAdvisory | None


class _WireKnown(msgspec.Struct, array_like=True, tag=3):
    record_id: str
    source: str
    read_digest: str


class _WireProblem(msgspec.Struct, array_like=True, tag=2):
    feed: str
    where: str
    reason: str
    record_id: str | None
    damaged: bool


class _WireFile(msgspec.Struct, array_like=True):
    """A parsed file as a worker sends it back: a chunk of them is one msgpack message
    (`msgspec`), decoded by the importer straight into these typed structs. Pickling the
    dataclasses (and their datetimes) cost 0.42 CPU-s per full import of the JSON sources,
    plain tuples 0.16; msgspec encodes in half the time pickle takes (0.045 CPU-s against
    0.090 for the 18,050 records of the shared snapshot's JSON sources), and typed decoding
    took 0.091 to 0.094 CPU-s where untyped decoding plus rebuilding from tuples took 0.104
    to 0.199."""

    path: str
    items: list[_WireRecord | _WireKnown | _WireProblem]
    digests: dict[str, bytes]
    size: int


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[_WireFile])


def _to_wire(parsed: ParsedFile) -> _WireFile:
    items: list[_WireRecord | _WireKnown | _WireProblem] = []
    for item in parsed.items:
        if isinstance(item, Parsed):
            a = item.advisory
            if isinstance(a, KnownRecord):
                items.append(_WireKnown(item.record_id, item.source, a.read_digest))
                continue
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
                    a.read_digest,
                    a.package_keys if isinstance(a, KeyedAdvisory) else package_keys_of(affected),
                )
            items.append(_WireRecord(item.record_id, item.source, wired))
        else:
            wired_problem = _WireProblem(
                item.feed, item.where, item.reason, item.record_id, item.damaged
            )
            items.append(wired_problem)
    return _WireFile(parsed.path, items, parsed.digests, parsed.size)


def _from_wire(wire: _WireFile) -> ParsedFile:
    out: list[ParseProblem | Parsed] = []
    for item in wire.items:
        if type(item) is _WireProblem:
            out.append(
                ParseProblem(item.feed, item.where, item.reason, item.record_id, item.damaged)
            )
            continue
        if type(item) is _WireKnown:
            known = KnownRecord(item.record_id, item.read_digest)
            out.append(Parsed(item.record_id, item.source, known))
            continue
        assert type(item) is _WireRecord
        a = item.advisory
        if a is None:
            out.append(Parsed(item.record_id, item.source, None))
            continue
        encoded = KeyedAdvisory(
            a.id,
            a.fingerprint,
            a.withdrawn,
            a.modified,
            a.content,
            a.affected,
            a.read_digest,
            a.package_keys,
        )
        out.append(Parsed(item.record_id, item.source, encoded))
    return ParsedFile(wire.path, tuple(out), wire.digests, wire.size)


def _parse_chunk(
    units: Sequence[Unit], limits: osv.Limits, source: str | None, known: Known, identity: bytes
) -> bytes:
    adopt(identity)
    archives = WORKER_ARCHIVES  # open until the parsing process ends
    parsed = [_to_wire(_parse_unit(u, limits, source, archives, known)) for u in units]
    return _encoder.encode(parsed)


def _read_chunk(message: bytes) -> list[ParsedFile]:
    return [_from_wire(w) for w in _decoder.decode(message)]


def default_workers() -> int:
    """One parsing process per core."""
    return max(1, os.cpu_count() or 1)


def parse_units(
    units: Sequence[Unit | os.PathLike[str]],
    limits: osv.Limits,
    workers: int | None = None,
    *,
    source: str | None = None,
    known: Known | None = None,
) -> Generator[ParsedFile, None, None]:
    """Every record file and archive member parsed, in the order given, by `workers`
    processes (1: this one); one `ParsedFile` for each, whatever happens. Records are
    grouped by what they affect, or all under `source` when one is given (`parse_file`).
    A file or member whose bytes are `known` is not read further: it gives its stored
    advisory's id as a `KnownRecord`.

    An archive whose members expand beyond `limits.max_archive_bytes` gives its problem in
    place of the member that crosses the cap, and nothing for its later members, as
    `osv.iter_zip` reads it; the processes then start again after its last member, so that a
    hostile archive costs no more than the cap."""
    names: list[Unit] = [u if isinstance(u, str | Member) else os.fspath(u) for u in units]
    start = 0
    while start < len(names):
        results = _parse_in_order(names[start:], limits, workers, source, known or {})
        try:
            totals: dict[str, int] = {}
            for at, parsed in enumerate(results, start):
                unit = names[at]
                if isinstance(unit, Member):
                    total = totals[unit.archive] = totals.get(unit.archive, 0) + parsed.size
                    if total > limits.max_archive_bytes:
                        results.close()  # its processes stop at once
                        problem = osv.archive_problem(
                            source or "osv", unit.archive, osv.OVER_ARCHIVE_CAP
                        )
                        yield ParsedFile(unit.archive, (problem,), {})
                        start = at + 1
                        while start < len(names) and _archive_of(names[start]) == unit.archive:
                            yield ParsedFile(_where(names[start]), (), {})
                            start += 1
                        break
                yield parsed
            else:
                return
        finally:
            results.close()


def _archive_of(unit: Unit) -> str | None:
    return unit.archive if isinstance(unit, Member) else None


def _where(unit: Unit) -> str:
    return unit.where if isinstance(unit, Member) else unit


def _parse_in_order(
    units: Sequence[Unit],
    limits: osv.Limits,
    workers: int | None,
    source: str | None,
    known: Known,
) -> Generator[ParsedFile, None, None]:
    count = default_workers() if workers is None else workers
    if count <= 1 or len(units) < MIN_FILES:
        archives = Archives()
        try:
            for unit in units:
                yield _parse_unit(unit, limits, source, archives, known)
        finally:
            archives.close()
        return
    chunks = [units[i : i + CHUNK] for i in range(0, len(units), CHUNK)]
    args = (limits, source, known, code_identity())
    for message in run_chunks(_parse_chunk, chunks, args, count):
        yield from _read_chunk(message)
