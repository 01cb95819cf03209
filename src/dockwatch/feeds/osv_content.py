"""OSV records read straight into their normalized content, without building the model.

An import stores what `model.advisory.canonical_content` makes of an advisory; building the
`Advisory` first (and the CVSS scores, which the content leaves out) was two thirds of an
import's CPU time. `read_content` makes the same content directly from the decoded record when
the record has the usual shape, and hands anything else (a field of an unexpected type, a bad
id or version, an over-long text) to `osv.parse_record`, so an unusual record gives exactly the
content, warnings and errors the model path gives. `tests/unit/feeds/test_osv_content.py` holds
the two paths to the same output over real records and hostile variations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dockwatch.feeds import fields as f
from dockwatch.feeds.osv import (
    _EVENT_CACHE,
    _EVENT_KINDS,
    _RANGE_TYPES,
    _SEVERITY_TYPES,
    KNOWN_ECOSYSTEMS,
    _event,
    parse_record,
)
from dockwatch.model.advisory import (
    AffectedStatus,
    SeverityType,
    canonical_content,
    is_cwe,
    normalize_package_name,
)
from dockwatch.value_class import frozen

_AFFECTED = AffectedStatus.AFFECTED.value
_VENDOR = SeverityType.VENDOR.value
_NO_PACKAGE = "no package (GIT-only entry skipped)"


@frozen
class Content:
    """One record as stored: its id, its normalized content, its modification time, and the
    decoded record (for the feeds that normalize further from the model: Ubuntu, SUSE); None
    when `osv_typed` read it without building it."""

    id: str
    content: dict[str, Any]
    modified: datetime | None
    doc: dict[str, Any] | None


class _Unusual(Exception):
    """The record leaves the usual shape: the model path reads it (and says what is wrong)."""


def read_content(doc: dict[str, Any], source: str) -> tuple[Content, str, list[str]]:
    """The record's content, its id and the reasons of affected entries that were dropped.
    Raises BadRecord as `osv.parse_record` does."""
    try:
        content, modified, warnings = _content(doc, source)
    except (_Unusual, f.BadRecord, TypeError, ValueError):
        adv, warnings = parse_record(doc, source)
        return Content(adv.id, canonical_content(adv), adv.modified, doc), adv.id, warnings
    return Content(content["id"], content, modified, doc), content["id"], warnings


def fast_content(doc: dict[str, Any], source: str) -> dict[str, Any] | None:
    """The content as the direct reading makes it, None when it hands the record to the model
    path (for tests: a usual record must not fall back)."""
    try:
        return _content(doc, source)[0]
    except (_Unusual, f.BadRecord, TypeError, ValueError):
        return None


def _content(d: dict[str, Any], source: str) -> tuple[dict[str, Any], datetime | None, list[str]]:
    adv_id = d.get("id")
    if not f.is_ident(adv_id):
        raise _Unusual
    entries = _list(d.get("affected"))
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
    severities = _severities(d.get("severity"), source)
    cwe_ids: list[str] = []
    dbs = d.get("database_specific")
    if isinstance(dbs, dict):
        rating = dbs.get("severity")
        if isinstance(rating, str) and rating.strip():
            severities.append([_VENDOR, rating.strip(), source])
        cwes = dbs.get("cwe_ids")
        if isinstance(cwes, list):
            cwe_ids = sorted({c for c in cwes if isinstance(c, str) and is_cwe(c)})
    modified = f.timestamp(d.get("modified"), "modified")
    content = {
        "id": adv_id,
        "aliases": sorted(set(_idents(d.get("aliases")))),
        "related": sorted(set(_idents(d.get("related"))) | set(_idents(d.get("upstream")))),
        "summary": _text(d.get("summary"), f.MAX_TEXT_LEN),
        "details": _text(d.get("details"), f.MAX_TEXT_LEN),
        "published": _ts(f.timestamp(d.get("published"), "published")),
        "modified": _ts(modified),
        "withdrawn": _ts(f.timestamp(d.get("withdrawn"), "withdrawn")),
        "references": _references(d.get("references")),
        "cwe_ids": cwe_ids,
        "severities": severities,
        "affected": affected,
    }
    return content, modified, warnings


def _ts(value: datetime | None) -> str | None:
    # `f.timestamp` gives UTC already, as `canonical_content` writes it
    return None if value is None else value.isoformat(timespec="microseconds")


def _list(value: object) -> list[Any]:
    if value is None:
        return []
    if type(value) is not list:
        raise _Unusual
    return value


def _text(value: object, limit: int) -> str:
    if value is None:
        return ""
    if type(value) is not str or len(value) > limit:
        raise _Unusual
    return value


def _idents(value: object) -> list[str]:
    items = _list(value)
    for item in items:
        if not f.is_ident(item):
            raise _Unusual
    return items


def _references(value: object) -> list[list[str]]:
    out = []
    for r in _list(value):
        if type(r) is not dict:
            raise _Unusual
        rtype, url = r.get("type"), r.get("url")
        if type(rtype) is not str or len(rtype) > 64 or type(url) is not str or len(url) > 4096:
            raise _Unusual
        out.append([rtype.upper() or "WEB", url])
    return out


def _severities(value: object, source: str) -> list[list[str]]:
    out = []
    for s in _list(value):
        if type(s) is not dict:
            raise _Unusual
        raw_type, score = s.get("type"), _text(s.get("score"), 512).strip()
        if type(raw_type) is str and raw_type in _SEVERITY_TYPES and score:
            out.append([raw_type, score, source])  # a type's value is its OSV name
    return out


_NAMES: dict[tuple[str, str], str] = {}
_ECOSYSTEMS: dict[str, str] = {}
"""An ecosystem as written -> as stored, for the known ones (a few dozen strings repeat)."""


def _affected(entry: object, source: str) -> dict[str, Any] | str:
    if type(entry) is not dict:
        raise _Unusual
    pkg = entry.get("package")
    if pkg is None:
        return _NO_PACKAGE
    if type(pkg) is not dict:
        raise _Unusual
    raw_ecosystem = pkg.get("ecosystem")
    ecosystem = _ECOSYSTEMS.get(raw_ecosystem) if type(raw_ecosystem) is str else None
    if ecosystem is None:
        ecosystem = _text(raw_ecosystem, 128).strip()
        if ecosystem.split(":", 1)[0] not in KNOWN_ECOSYSTEMS:
            return f"unknown ecosystem {ecosystem[:60]!r} (entry skipped)"
        if len(_ECOSYSTEMS) < 10_000:
            _ECOSYSTEMS[raw_ecosystem] = ecosystem  # type: ignore[index]
    raw_name = pkg.get("name")
    name = _NAMES.get((ecosystem, raw_name)) if type(raw_name) is str else None
    if name is None:
        raw_name = _text(raw_name, 512)
        if not raw_name.strip():
            raise _Unusual
        name = normalize_package_name(ecosystem, raw_name)
        if len(_NAMES) > 200_000:  # bounded: names repeat across records, hostile feeds vary
            _NAMES.clear()
        _NAMES[(ecosystem, raw_name)] = name
    purl = pkg.get("purl")
    if purl is not None:
        purl = _text(purl, 2048) or None
    ranges = [_range(r) for r in _list(entry.get("ranges"))]
    raw_versions = entry.get("versions")
    versions = (
        sorted([f.version(v, "versions") for v in _list(raw_versions)]) if raw_versions else []
    )
    raw_sev = entry.get("severity")
    return {
        "ecosystem": ecosystem,
        "name": name,
        "purl": purl,
        "status": _AFFECTED,
        "versions": versions,
        "severities": _severities(raw_sev, source) if raw_sev else [],
        "ranges": ranges,
    }


def _range(value: object) -> list[Any]:
    if type(value) is not dict:
        raise _Unusual
    rtype = value.get("type")
    if type(rtype) is not str or rtype not in _RANGE_TYPES:
        raise _Unusual
    events = []
    checked = _EVENT_CACHE  # events already validated: most repeat (`osv._event`)
    for ev in _list(value.get("events")):
        if type(ev) is not dict or len(ev) != 1:
            raise _Unusual
        ((key, val),) = ev.items()
        if (key, val) not in checked:  # an unhashable value raises TypeError: the model path
            if type(key) is not str or key not in _EVENT_KINDS:
                raise _Unusual
            _event(key, val)  # checks the version, as the model path does, and remembers it
        events.append([key, val])  # a kind's value is its OSV name
    repo = value.get("repo")
    if repo is not None:
        repo = _text(repo, 2048) or None
    return [rtype, repo, events]
