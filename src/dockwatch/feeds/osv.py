"""OSV records from any producer: folders of JSON/YAML files and osv.dev's `all.zip` archives.

Schema: https://ossf.github.io/osv-schema/. Archives: osv.dev publishes one zip per ecosystem at
`https://osv-vulnerabilities.storage.googleapis.com/<ECOSYSTEM>/all.zip`
(https://google.github.io/osv.dev/data/#data-dumps). Licence, README and other non-record files are
skipped quietly; a malformed record becomes a ParseProblem. Archive members and files are read
with size caps, so a zip bomb or a huge record cannot exhaust memory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson
import yaml

from dockwatch.feeds import fields as f
from dockwatch.feeds import zip_directory
from dockwatch.feeds.feed import FeedItem, ParseProblem
from dockwatch.feeds.folder_walk import NOT_A_FILE, walk_files
from dockwatch.feeds.record_digest import record_digest
from dockwatch.feeds.zip_members import MemberReader
from dockwatch.model.advisory import (
    Advisory,
    AdvisoryID,
    Affected,
    Event,
    EventKind,
    Range,
    RangeType,
    Reference,
    Severity,
    SeverityType,
    cvss_severity,
    is_cwe,
    normalize_package_name,
)
from dockwatch.value_class import frozen

logger = logging.getLogger(__name__)

#: Base ecosystem names of the OSV schema (ecosystems.txt); a `:suffix` (release) may follow.
KNOWN_ECOSYSTEMS = frozenset(
    {
        "AlmaLinux", "Alpaquita", "Alpine", "Android", "Azure Linux", "BellSoft Hardened Containers",
        "Bioconductor", "Bitnami", "Chainguard", "CleanStart", "ConanCenter", "CRAN", "crates.io",
        "Debian", "Docker Hardened Images", "Echo", "FreeBSD", "GHC", "GIT", "GitHub Actions", "Go",
        "Hackage", "Hex", "Julia", "Kubernetes", "Linux", "Mageia", "Maven", "MinimOS", "npm",
        "NuGet", "openEuler", "openSUSE", "OSS-Fuzz", "Packagist", "Photon OS", "Pub", "PyPI",
        "Red Hat", "Rocky Linux", "Root", "RubyGems", "SUSE", "SwiftURL", "Ubuntu", "VSCode",
        "Wolfi",
    }
)  # fmt: skip

RECORD_SUFFIXES = (".json", ".yaml", ".yml")
_VENDOR_RATINGS = {"MODERATE": "MEDIUM", "IMPORTANT": "HIGH"}
_SEVERITY_TYPES = {t.value: t for t in SeverityType}
_RANGE_TYPES = {t.value: t for t in RangeType}
_EVENT_KINDS = {k.value: k for k in EventKind}


@frozen
class Limits:
    """Caps that keep hostile input bounded."""

    max_record_bytes: int = 16 << 20
    """Largest single record file or archive member (the largest real one is under 1 MiB)."""
    max_archive_bytes: int = 8 << 30
    """Total uncompressed bytes read from one archive."""
    max_yaml_nodes: int = 1_000_000
    """Nodes in one decoded YAML record."""
    max_affected: int = 100_000
    """Affected entries in one record."""


@frozen
class _Skip:
    """A file that is not a record (licence, README, schema, index): skipped quietly."""


_NOT_A_RECORD = _Skip()


def decode(data: bytes, name: str, limits: Limits) -> object:
    """Decode one file's bytes as JSON or YAML by its name. Raises BadRecord."""
    try:
        if name.endswith(".json"):
            return orjson.loads(data)
        return f.load_yaml(data, limits.max_yaml_nodes)
    except (orjson.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError, RecursionError) as e:
        raise f.BadRecord(f"cannot decode: {str(e)[:200]}") from e


def looks_like_record(doc: object) -> bool:
    """Whether a decoded document is meant to be an OSV record (else it is skipped quietly)."""
    return isinstance(doc, dict) and "id" in doc and ("affected" in doc or "modified" in doc)


def parse_record(doc: object, source: str) -> tuple[Advisory, list[str]]:
    """One OSV record as an Advisory, plus the reasons of affected entries that were dropped.

    Raises BadRecord when the record as a whole is malformed.
    """
    d = f.obj(doc, "record")
    adv_id = f.ident(d.get("id"), "id")
    warnings: list[str] = []
    affected: list[Affected] = []
    entries = f.arr(d.get("affected"), "affected")
    if len(entries) > 100_000:
        raise f.BadRecord(f"{len(entries)} affected entries")
    for i, entry in enumerate(entries):
        try:
            a = _affected(entry, source)
        except f.BadRecord as e:
            raise f.BadRecord(f"affected[{i}]: {e.reason}") from e
        if isinstance(a, str):
            warnings.append(f"affected[{i}]: {a}")
        else:
            affected.append(a)
    dbs = d.get("database_specific")
    severities = [_severity(s, source) for s in f.arr(d.get("severity"), "severity")]
    cwe_ids: tuple[str, ...] = ()
    if isinstance(dbs, dict):
        rating = dbs.get("severity")
        if isinstance(rating, str) and rating.strip():
            severities.append(_vendor_rating(rating.strip(), source))
        cwes = dbs.get("cwe_ids")
        if isinstance(cwes, list):
            cwe_ids = tuple(sorted({c for c in cwes if isinstance(c, str) and is_cwe(c)}))
    adv = Advisory(
        id=AdvisoryID(adv_id),
        source=source,
        aliases=tuple(sorted({f.ident(a, "aliases") for a in f.arr(d.get("aliases"), "aliases")})),
        # OSV 1.7 `upstream` (Ubuntu's and Debian's `UBUNTU-CVE-…` records name their CVE there)
        # is kept with `related`, so the finding is filed under the CVE.
        related=tuple(
            sorted(
                {f.ident(a, "related") for a in f.arr(d.get("related"), "related")}
                | {f.ident(a, "upstream") for a in f.arr(d.get("upstream"), "upstream")}
            )
        ),
        summary=f.text(d.get("summary"), "summary"),
        details=f.text(d.get("details"), "details"),
        published=f.timestamp(d.get("published"), "published"),
        modified=f.timestamp(d.get("modified"), "modified"),
        withdrawn=f.timestamp(d.get("withdrawn"), "withdrawn"),
        references=tuple([_reference(r) for r in f.arr(d.get("references"), "references")]),
        cwe_ids=cwe_ids,
        severities=tuple(s for s in severities if s is not None),
        affected=tuple(affected),
    )
    return adv, warnings


# The hot path below passes constant field names to the checks: building an f-string per field
# per entry costs more than the checks; the caller adds the entry index to any error.


def _affected(entry: object, source: str) -> Affected | str:
    """One affected entry, or the reason it is skipped (the rest of the record is kept)."""
    e = f.obj(entry, "entry")
    pkg = e.get("package")
    if pkg is None:
        return "no package (GIT-only entry skipped)"
    p = f.obj(pkg, "package")
    ecosystem = f.text(p.get("ecosystem"), "package.ecosystem", limit=128).strip()
    if ecosystem.split(":", 1)[0] not in KNOWN_ECOSYSTEMS:
        return f"unknown ecosystem {ecosystem[:60]!r} (entry skipped)"
    raw_name = f.text(p.get("name"), "package.name", limit=512)
    if not raw_name.strip():
        raise f.BadRecord("package.name is empty")
    purl = p.get("purl")
    ranges = tuple([_range(r) for r in f.arr(e.get("ranges"), "ranges")])
    raw_versions = e.get("versions")
    versions = (
        tuple([f.version(v, "versions") for v in f.arr(raw_versions, "versions")])
        if raw_versions
        else ()
    )
    raw_sev = e.get("severity")
    sev = (
        tuple(
            s for s in (_severity(x, source) for x in f.arr(raw_sev, "severity")) if s is not None
        )
        if raw_sev
        else ()
    )
    return Affected(
        ecosystem=ecosystem,
        name=normalize_package_name(ecosystem, raw_name),
        ranges=ranges,
        versions=versions,
        purl=f.text(purl, "purl", limit=2048) or None,
        severities=sev,
    )


def _range(value: object) -> Range:
    r = f.obj(value, "ranges[]")
    raw_type = r.get("type")
    rtype = _RANGE_TYPES.get(raw_type) if type(raw_type) is str else None
    if rtype is None:
        raise f.BadRecord(f"unknown range type {str(raw_type)[:40]!r}")
    events: list[Event] = []
    for ev in f.arr(r.get("events"), "ranges[].events"):
        if type(ev) is not dict or len(ev) != 1:
            raise f.BadRecord("an event must have exactly one key")
        ((key, val),) = ev.items()
        events.append(_event(key, val))
    repo = r.get("repo")
    return Range(type=rtype, events=tuple(events), repo=f.text(repo, "repo", limit=2048) or None)


_EVENT_CACHE: dict[tuple[object, object], Event] = {}


def _event(key: object, val: object) -> Event:
    # Distribution feeds repeat the same events thousands of times; validating and building each
    # once keeps parsing fast. The cache only holds valid, immutable events and is bounded.
    try:
        return _EVENT_CACHE[(key, val)]
    except (KeyError, TypeError):
        pass
    kind = _EVENT_KINDS.get(key)  # type: ignore[call-overload]
    if kind is None:
        raise f.BadRecord(f"unknown event {str(key)[:40]!r}")
    event = Event(kind, f.version(val, str(key)))
    if len(_EVENT_CACHE) > 500_000:
        _EVENT_CACHE.clear()
    _EVENT_CACHE[(key, val)] = event
    return event


def _severity(value: object, source: str) -> Severity | None:
    s = f.obj(value, "severity[]")
    raw_type = s.get("type")
    stype = _SEVERITY_TYPES.get(raw_type) if type(raw_type) is str else None
    score = f.text(s.get("score"), "severity[].score", limit=512).strip()
    if stype is None or not score:
        return None
    if stype is SeverityType.UBUNTU:
        return Severity(stype, score, source, rating=score.upper())
    return cvss_severity(stype, score, source)


def _vendor_rating(rating: str, source: str) -> Severity:
    up = rating.upper()
    return Severity(SeverityType.VENDOR, rating, source, rating=_VENDOR_RATINGS.get(up, up))


_REF_TYPES: dict[str, str] = {}


def _reference(value: object) -> Reference:
    if type(value) is dict:
        rtype, url = value.get("type"), value.get("url")
        if type(rtype) is str and type(url) is str and len(url) <= 4096:
            # Reference types are a handful of words: normalize each spelling once.
            norm = _REF_TYPES.get(rtype)
            if norm is None and len(rtype) <= 64:
                norm = rtype.upper() or "WEB"
                if len(_REF_TYPES) < 1024:  # bounded: hostile feeds may invent many types
                    _REF_TYPES[rtype] = norm
            if norm is not None:
                return Reference(norm, url)
    r = f.obj(value, "references[]")
    return Reference(
        type=f.text(r.get("type"), "references[].type", limit=64).upper() or "WEB",
        url=f.text(r.get("url"), "references[].url", limit=4096),
    )


# --- files, folders, archives ---------------------------------------------------------------


Seen = dict[str, bytes]
"""Record id -> digest of the bytes it came from, to drop repeated records in one parse."""


T = TypeVar("T")
RecordReader = Callable[[dict[str, Any], str], tuple[T, str, list[str]]]
"""Reads one decoded record for `source`: (what is yielded, the record's id, the reasons of
dropped affected entries); raises BadRecord."""

FastReader = Callable[[bytes, str], tuple[T, str, list[str]] | None]
"""A JSON file's bytes read into what `RecordReader` gives, or None (never raises): read it so."""


def _advisory(doc: dict[str, Any], source: str) -> tuple[Advisory, str, list[str]]:
    adv, warnings = parse_record(doc, source)
    return adv, adv.id, warnings


def iter_bytes_with(
    data: bytes,
    name: str,
    where: str,
    source: str,
    limits: Limits,
    seen: Seen | None,
    reader: RecordReader[T],
    fast: FastReader[T] | None = None,
    digest: bytes | None = None,
) -> Iterator[T | ParseProblem]:
    """The record in one file's bytes (`name`, lower case, tells JSON from YAML; `where` is
    what problems name), read by `reader`, JSON first by `fast`; nothing when it is not a
    record, and nothing but a quiet skip or a problem when `seen` already holds its id.
    `digest` is the bytes' `record_digest` for `source`, when the caller has it."""
    rec_id: str | None = None
    try:
        read = fast(data, source) if fast is not None and name.endswith(".json") else None
        if read is None:
            doc = decode(data, name, limits)
            if not looks_like_record(doc):
                logger.debug("osv %s: %s is not a record, skipped", source, where)
                return
            assert isinstance(doc, dict)
            raw_id = doc.get("id")
            rec_id = raw_id if isinstance(raw_id, str) and len(raw_id) <= 128 else None
            read = reader(doc, source)
        item, item_id, warnings = read
    except f.BadRecord as e:
        yield _problem(source, where, e.reason, rec_id)
        return
    except (RecursionError, MemoryError) as e:  # pathological nesting
        yield _problem(source, where, f"record too deep or large: {type(e).__name__}", rec_id)
        return
    if seen is not None:
        # The same id twice in one tree: AlmaLinux ships 34 identical ALSA files in two release
        # folders. Identical copies are dropped quietly; a different copy is a problem.
        # SHA-NI: 0.041 CPU-s per import, BLAKE2b 0.072; the digest a later import knows the
        # record by (`vulndb.parallel`), so the same for copies read for the same source
        if digest is None:
            digest = record_digest(data, source)
        first = seen.setdefault(item_id, digest)
        if first is not digest:
            if first != digest:
                yield _problem(
                    source, where, f"duplicate id {item_id}; the first copy is kept", item_id
                )
            else:
                logger.debug("osv %s: %s repeats %s, skipped", source, where, item_id)
            return
    for w in warnings:
        yield _problem(source, where, w, item_id)
    yield item


def _problem(
    source: str, where: str, reason: str, rec_id: str | None, *, damaged: bool = False
) -> ParseProblem:
    logger.warning("osv %s: skipped %s: %s", source, where, reason, extra={"feed": source})
    return ParseProblem(source, where, reason, rec_id, damaged)


def record_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """An archive's entries that may hold records, in its order: folders, files of other
    kinds, hidden files and macOS metadata left out."""
    out = []
    for info in zf.infolist():
        name = info.filename
        if info.is_dir() or not name.lower().endswith(RECORD_SUFFIXES):
            continue
        if "/." in f"/{name}" or name.startswith("__MACOSX/"):
            continue
        out.append(info)
    return out


def read_member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    where: str,
    source: str,
    limits: Limits,
    reader: MemberReader | None = None,
) -> bytes | ParseProblem:
    """One member's bytes, or the problem that stops it: too large as declared or as it
    expands, or unreadable. Never more than the record cap is read. A plain member is read by
    `reader` when one is given, any other through `zipfile`."""
    if info.file_size > limits.max_record_bytes:
        return _problem(source, where, f"member of {info.file_size} bytes is too large", None)
    if reader is not None:
        data = reader.read(info, limits.max_record_bytes)
        if data is not None:
            return data
    try:
        with zf.open(info) as member:
            data = member.read(limits.max_record_bytes + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, ValueError) as e:
        # RuntimeError: an encrypted member; NotImplementedError (one): an unknown method;
        # ValueError (UnicodeDecodeError): a local name flagged UTF-8 that is not
        return _problem(source, where, f"cannot read member: {e}", None, damaged=True)
    if len(data) > limits.max_record_bytes:
        return _problem(source, where, "member expands beyond the record cap", None)
    return data


OVER_ARCHIVE_CAP = "archive expands beyond its cap; rest skipped"
"""The reason given when an archive's members expand beyond `Limits.max_archive_bytes`."""


def archive_problem(source: str, path: Path | str, reason: str) -> ParseProblem:
    """A problem of a whole archive (unreadable, or over its cap), logged: `damaged`."""
    return _problem(source, str(path), reason, None, damaged=True)


def iter_zip(
    path: Path, source: str, limits: Limits = Limits(), seen: Seen | None = None
) -> Iterator[FeedItem]:
    """Every record in an OSV zip archive (osv.dev `all.zip`), members read with caps."""
    try:
        zf, end = zip_directory.open_zip(path)
    except (zipfile.BadZipFile, OSError) as e:
        yield archive_problem(source, path, f"not a readable zip: {e}")
        return
    total = 0
    reader = MemberReader(str(path), zf.infolist(), end.directory_at)
    with zf, contextlib.closing(reader):
        for info in record_members(zf):
            where = f"{path}!{info.filename}"
            data = read_member(zf, info, where, source, limits, reader)
            if isinstance(data, ParseProblem):
                yield data
                continue
            total += len(data)
            if total > limits.max_archive_bytes:
                yield archive_problem(source, path, OVER_ARCHIVE_CAP)
                return
            name = info.filename.lower()
            yield from iter_bytes_with(data, name, where, source, limits, seen, _advisory)


def iter_file(
    path: Path | str, source: str, limits: Limits = Limits(), seen: Seen | None = None
) -> Iterator[FeedItem]:
    """The record in one JSON/YAML file (nothing for other files)."""
    return iter_file_with(path, source, limits, seen, _advisory)


def iter_file_with(
    path: Path | str,
    source: str,
    limits: Limits,
    seen: Seen | None,
    reader: RecordReader[T],
    fast: FastReader[T] | None = None,
) -> Iterator[T | ParseProblem]:
    """`iter_file` with records read by `reader` (`osv_content`), JSON first by `fast`."""
    spath = os.fspath(path)
    name = os.path.basename(spath).lower()
    if not name.endswith(RECORD_SUFFIXES):
        return
    try:
        data = f.read_bounded(spath, limits.max_record_bytes)
    except f.TooBig as e:
        yield _problem(source, spath, f"file is too large: {e}", None)
        return
    except OSError as e:
        yield _problem(source, spath, f"cannot read: {e}", None)
        return
    yield from iter_bytes_with(data, name, spath, source, limits, seen, reader, fast)


def iter_path(
    path: Path, source: str, limits: Limits = Limits(), seen: Seen | None = None
) -> Iterator[FeedItem]:
    """Records under `path`: a folder (walked in sorted order, hidden entries skipped, what is
    not a regular file a problem), a zip, or one file. An id already yielded (tracked in
    `seen`) is not yielded again."""
    if seen is None:
        seen = {}
    if path.is_dir():
        for folder in walk_files(path):
            for name in folder.files:
                full = os.path.join(folder.path, name)
                if name.lower().endswith(".zip"):
                    yield from iter_zip(Path(full), source, limits, seen)
                else:
                    yield from iter_file(full, source, limits, seen)
            for name in folder.others:
                where = os.path.join(folder.path, name)
                yield _problem(source, where, NOT_A_FILE, None)
    elif path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        yield from iter_zip(path, source, limits, seen)
    else:
        yield from iter_file(path, source, limits, seen)
