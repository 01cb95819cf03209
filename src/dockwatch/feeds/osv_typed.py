"""OSV JSON records decoded by msgspec into typed structs, then read into their stored content.

Decoding a record into dicts and lists (orjson) builds every object of the file, the fields an
import ignores included (`credits`, `database_specific` and `ecosystem_specific` blocks, ...);
msgspec decoding into the structs below skips them and checks the types of the rest in C, and
the content is then made from attributes exactly as `osv_content` makes it from the dicts. For
the 18,050 JSON records of the shared snapshot (least CPU time of five rounds, the garbage
collector off as during an import): decoding 0.196 s with orjson, 0.159 s typed; decoding and
reading into the content 0.663 s against 0.572 s; parsing whole files (read, decode, content,
serialized and packed) 1.63 s against 1.46 s.

This reading is a fast path only: a record that does not fit the structs (a field of another
type, a missing reference URL, invalid bytes), or whose content `osv_content` would hand to the
model path, gives None, and the caller reads the file as before (orjson, `osv_content`, the
model). So every record gives the content, warnings and errors it gave. One difference is
left: a number out of the float range inside a field the import does not read (`1e400` in a
`database_specific` block) made the whole record undecodable to orjson; the structs skip
such a field without converting it, so the record is read (checking for it cost more than the
typed decoding saves). `tests/unit/feeds/test_osv_typed.py` holds both readings to the same
output over real records and hostile variations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from dockwatch.feeds import fields as f
from dockwatch.feeds.osv import (
    _EVENT_CACHE,
    _EVENT_KINDS,
    _RANGE_TYPES,
    _SEVERITY_TYPES,
    KNOWN_ECOSYSTEMS,
    _event,
)
from dockwatch.feeds.osv_content import (
    _AFFECTED,
    _ECOSYSTEMS,
    _NAMES,
    _NO_PACKAGE,
    _VENDOR,
    Content,
    _text,
    _ts,
    _Unusual,
)
from dockwatch.model.advisory import is_cwe, normalize_package_name


class _Package(msgspec.Struct):
    ecosystem: str | None = None
    name: str | None = None
    purl: str | None = None


class _Range(msgspec.Struct):
    type: str | None = None
    repo: str | None = None
    events: list[dict[str, str]] | None = None


class _Severity(msgspec.Struct):
    type: str | None = None
    score: str | None = None


class _Affected(msgspec.Struct):
    package: _Package | None = None
    ranges: list[_Range] | None = None
    versions: list[str] | None = None
    severity: list[_Severity] | None = None


class _Reference(msgspec.Struct):
    type: str | None = None
    url: str | None = None


class _DatabaseSpecific(msgspec.Struct):
    severity: str | None = None
    cwe_ids: list[str] | None = None


class _Record(msgspec.Struct):
    id: str
    modified: str | None | msgspec.UnsetType = msgspec.UNSET
    affected: list[_Affected] | None | msgspec.UnsetType = msgspec.UNSET
    published: str | None = None
    withdrawn: str | None = None
    aliases: list[str] | None = None
    related: list[str] | None = None
    upstream: list[str] | None = None
    summary: str | None = None
    details: str | None = None
    severity: list[_Severity] | None = None
    references: list[_Reference] | None = None
    database_specific: _DatabaseSpecific | None = None


_decoder = msgspec.json.Decoder(_Record)


def read_json(data: bytes, source: str) -> tuple[Content, str, list[str]] | None:
    """A JSON record file's content, id and warnings (what `osv_content.read_content` gives
    for it), or None when the file must be read the general way."""
    if not data.isascii():
        try:  # orjson refuses invalid UTF-8 anywhere; msgspec only in the fields it reads
            data.decode()
        except UnicodeDecodeError:
            return None
    try:
        rec = _decoder.decode(data)
        if rec.affected is msgspec.UNSET and rec.modified is msgspec.UNSET:
            return None  # not a record: the general path skips it
        content, modified, warnings = _content(rec, source)
    except (msgspec.DecodeError, RecursionError, _Unusual, f.BadRecord, TypeError, ValueError):
        return None
    return Content(content["id"], content, modified, None), content["id"], warnings


def _content(d: _Record, source: str) -> tuple[dict[str, Any], datetime | None, list[str]]:
    adv_id = d.id
    if not f.is_ident(adv_id):
        raise _Unusual
    entries = d.affected or []
    if len(entries) > 100_000:
        raise _Unusual
    warnings: list[str] = []
    affected: list[dict[str, Any]] = []
    for i, entry in enumerate(entries):
        a = _affected(entry, source)
        if type(a) is str:
            warnings.append(f"affected[{i}]: {a}")
        else:
            affected.append(a)  # type: ignore[arg-type]
    severities = _severities(d.severity, source)
    cwe_ids: list[str] = []
    dbs = d.database_specific
    if dbs is not None:
        rating = dbs.severity
        if rating is not None and rating.strip():
            severities.append([_VENDOR, rating.strip(), source])
        if dbs.cwe_ids is not None:
            cwe_ids = sorted({c for c in dbs.cwe_ids if is_cwe(c)})
    raw_modified = d.modified if type(d.modified) is str else None
    modified = f.timestamp(raw_modified, "modified")
    content = {
        "id": adv_id,
        "aliases": sorted(set(_idents(d.aliases))),
        "related": sorted(set(_idents(d.related)) | set(_idents(d.upstream))),
        "summary": _text(d.summary, f.MAX_TEXT_LEN),
        "details": _text(d.details, f.MAX_TEXT_LEN),
        "published": _ts(f.timestamp(d.published, "published")),
        "modified": _ts(modified),
        "withdrawn": _ts(f.timestamp(d.withdrawn, "withdrawn")),
        "references": _references(d.references),
        "cwe_ids": cwe_ids,
        "severities": severities,
        "affected": affected,
    }
    return content, modified, warnings


def _idents(items: list[str] | None) -> list[str]:
    if items is None:
        return []
    for item in items:
        if not f.is_ident(item):
            raise _Unusual
    return items


def _references(refs: list[_Reference] | None) -> list[list[str]]:
    out = []
    for r in refs or ():
        rtype, url = r.type, r.url
        if rtype is None or len(rtype) > 64 or url is None or len(url) > 4096:
            raise _Unusual
        out.append([rtype.upper() or "WEB", url])
    return out


def _severities(values: list[_Severity] | None, source: str) -> list[list[str]]:
    out = []
    for s in values or ():
        raw_type, score = s.type, _text(s.score, 512).strip()
        if raw_type is not None and raw_type in _SEVERITY_TYPES and score:
            out.append([raw_type, score, source])
    return out


def _affected(entry: _Affected, source: str) -> dict[str, Any] | str:
    pkg = entry.package
    if pkg is None:
        return _NO_PACKAGE
    raw_ecosystem = pkg.ecosystem
    ecosystem = _ECOSYSTEMS.get(raw_ecosystem) if raw_ecosystem is not None else None
    if ecosystem is None:
        ecosystem = _text(raw_ecosystem, 128).strip()
        if ecosystem.split(":", 1)[0] not in KNOWN_ECOSYSTEMS:
            return f"unknown ecosystem {ecosystem[:60]!r} (entry skipped)"
        if len(_ECOSYSTEMS) < 10_000 and raw_ecosystem is not None:
            _ECOSYSTEMS[raw_ecosystem] = ecosystem
    raw_name = pkg.name
    name = _NAMES.get((ecosystem, raw_name)) if raw_name is not None else None
    if name is None:
        raw_name = _text(raw_name, 512)
        if not raw_name.strip():
            raise _Unusual
        name = normalize_package_name(ecosystem, raw_name)
        if len(_NAMES) > 200_000:
            _NAMES.clear()
        _NAMES[(ecosystem, raw_name)] = name
    purl = pkg.purl
    if purl is not None:
        purl = _text(purl, 2048) or None
    ranges = [_range(r) for r in entry.ranges or ()]
    raw_versions = entry.versions
    versions = sorted([f.version(v, "versions") for v in raw_versions]) if raw_versions else []
    raw_sev = entry.severity
    return {
        "ecosystem": ecosystem,
        "name": name,
        "purl": purl,
        "status": _AFFECTED,
        "versions": versions,
        "severities": _severities(raw_sev, source) if raw_sev else [],
        "ranges": ranges,
    }


def _range(value: _Range) -> list[Any]:
    rtype = value.type
    if rtype is None or rtype not in _RANGE_TYPES:
        raise _Unusual
    events = []
    checked = _EVENT_CACHE
    for ev in value.events or ():
        if len(ev) != 1:
            raise _Unusual
        ((key, val),) = ev.items()
        if (key, val) not in checked:
            if key not in _EVENT_KINDS:
                raise _Unusual
            _event(key, val)
        events.append([key, val])
    repo = value.repo
    if repo is not None:
        repo = _text(repo, 2048) or None
    return [rtype, repo, events]
