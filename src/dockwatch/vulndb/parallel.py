"""Parsing OSV record files on every core, with the result a single process gives.

Parsing and normalizing dominate an import of a folder of records, and each file is
independent: worker processes read, parse and serialize files in order-preserving chunks and
hand back what the writer stores (`EncodedAdvisory`), each record's id and the digest of its
bytes. What depends on order, dropping a record whose id an earlier file already gave, stays in
the importer, which walks the results in file order exactly as a single process would.
"""

from __future__ import annotations

import ctypes
import gc
import itertools
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dockwatch.feeds import osv, osv_content, osv_typed, suse, ubuntu
from dockwatch.feeds.feed import ParseProblem
from dockwatch.model.advisory import Advisory
from dockwatch.storage.vuln_repo import EncodedAdvisory

from .service import encode_advisory, encode_content

CHUNK = 200
"""Files per task sent to a worker: large enough that sending results back stays cheap."""
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


_PR_SET_PDEATHSIG = 1


def _end_with_parent(parent: int) -> None:
    """A parsing process dies with the process that started it (Linux: PR_SET_PDEATHSIG): an
    import killed with SIGKILL has no chance to stop its pool, whose processes would otherwise
    wait forever on a queue nobody writes to."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request above
        os._exit(1)
    gc.disable()  # what it builds is acyclic (see `importer.collector_paused`)


_Wire = tuple[str, list[Any], dict[str, bytes]]
"""A parsed file as a worker sends it back: plain tuples, strings and bytes. Pickling the
dataclasses (and their datetimes) cost 0.42 CPU-s per full import of the JSON sources, plain
tuples 0.16."""


def _to_wire(parsed: ParsedFile) -> _Wire:
    items: list[Any] = []
    for item in parsed.items:
        if isinstance(item, Parsed):
            a = item.advisory
            items.append(
                (
                    item.record_id,
                    item.source,
                    None
                    if a is None
                    else (
                        a.id,
                        a.fingerprint,
                        a.withdrawn,
                        None if a.modified is None else a.modified.isoformat(),
                        a.content,
                        a.affected,
                    ),
                )
            )
        else:
            items.append(item)
    return parsed.path, items, parsed.digests


def _from_wire(wire: _Wire) -> ParsedFile:
    path, items, digests = wire
    out: list[ParseProblem | Parsed] = []
    for item in items:
        if isinstance(item, ParseProblem):
            out.append(item)
            continue
        record_id, source, a = item
        if a is None:
            out.append(Parsed(record_id, source, None))
            continue
        aid, fingerprint, withdrawn, modified, content, affected = a
        when = None if modified is None else datetime.fromisoformat(modified)
        encoded = EncodedAdvisory(aid, fingerprint, withdrawn, when, content, affected)
        out.append(Parsed(record_id, source, encoded))
    return ParsedFile(path, tuple(out), digests)


def _parse_chunk(paths: Sequence[str], limits: osv.Limits) -> list[_Wire]:
    return [_to_wire(parse_file(p, limits)) for p in paths]


def default_workers() -> int:
    """One parsing process per core."""
    return max(1, os.cpu_count() or 1)


def parse_files(
    paths: Sequence[str | os.PathLike[str]], limits: osv.Limits, workers: int | None = None
) -> Iterator[ParsedFile]:
    """Every file parsed, in the order given, by `workers` processes (1: this one)."""
    names = [os.fspath(p) for p in paths]
    count = default_workers() if workers is None else workers
    if count <= 1 or len(names) < MIN_FILES:
        for name in names:
            yield parse_file(name, limits)
        return
    # fork is cheapest and safe while this process runs no other thread (the CLI); a server
    # with threads starts clean interpreters instead
    method = "fork" if threading.active_count() == 1 else "spawn"
    chunks = [names[i : i + CHUNK] for i in range(0, len(names), CHUNK)]
    with ProcessPoolExecutor(
        count,
        mp_context=multiprocessing.get_context(method),
        initializer=_end_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        for parsed in pool.map(_parse_chunk, chunks, itertools.repeat(limits)):
            yield from map(_from_wire, parsed)
