"""yum/dnf `updateinfo.xml` security advisories, as Amazon Linux (ALAS) and Bottlerocket (BRSA)
publish them.

Each `<update type="security">` carries its id (`ALAS2023-2023-001`, `ALAS2-2018-939`,
`ALAS-2018-1000`, `BRSA-kdg8bd1th2gb`), a severity word (`critical`, `important`, `medium`,
`low`), `issued` / `updated` dates (`2023-02-17 20:41` in ALAS, RFC 3339 in BRSA), references (the
CVEs it fixes, `type="cve"`) and the fixed *binary* packages
(`<package name epoch version release arch>`) of every architecture. The vendor advises by binary
package, so each binary name is one affected entry, fixed at its `epoch:version-release` in rpm
order (the lowest one when architectures differ). The id is the advisory's own; its CVEs go to
`related`, so each CVE is a finding with the advisory as its source.

The release an advisory belongs to is read from its id prefix, so a file imported on its own
(`dockwatch db import updateinfo.xml.gz`) lands in the right release: `ALAS2023-` (Amazon Linux
2023), `ALAS2` (Amazon Linux 2 core and extras: `ALAS2-`, `ALAS2KERNEL-5.10-`, ...), `ALAS-`
(Amazon Linux AMI), `BRSA-` (Bottlerocket).

The file is read as a stream (an AL2 updateinfo is tens of MB), decompressed when gzipped, and
bounded in size; a document that declares a DTD or entities is refused before parsing.
"""

from __future__ import annotations

import gzip
import io
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from dockwatch.feeds import fields as f
from dockwatch.feeds.feed import FeedFormatError, FeedItem, ParseProblem
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
)
from dockwatch.versions.rpm import RpmScheme
from dockwatch.versions.scheme import InvalidVersion

logger = logging.getLogger(__name__)

AMAZON_SOURCE = "amazon"
BOTTLEROCKET_SOURCE = "bottlerocket"
AMAZON_ECOSYSTEM = "Amazon Linux"
BOTTLEROCKET_ECOSYSTEM = "Bottlerocket"

#: the vendors' severity words -> the rating stated next to them
RATINGS = {"critical": "CRITICAL", "important": "HIGH", "medium": "MEDIUM", "low": "LOW"}

_CVE = re.compile(r"CVE-\d{4}-\d{4,}")
_PROLOG = 64 << 10
_CHUNK = 1 << 16
_SCHEME = RpmScheme()
_INTRODUCED_0 = Event(EventKind.INTRODUCED, "0")


def ecosystem_of(advisory_id: str) -> tuple[str, str] | None:
    """(ecosystem, source) of an advisory id, None when the prefix names no known release."""
    if advisory_id.startswith("ALAS2023-"):
        return f"{AMAZON_ECOSYSTEM}:2023", AMAZON_SOURCE
    if advisory_id.startswith("ALAS2022-"):
        return f"{AMAZON_ECOSYSTEM}:2022", AMAZON_SOURCE
    if advisory_id.startswith("ALAS2"):
        return f"{AMAZON_ECOSYSTEM}:2", AMAZON_SOURCE
    if advisory_id.startswith("ALAS-"):
        return f"{AMAZON_ECOSYSTEM}:1", AMAZON_SOURCE
    if advisory_id.startswith("BRSA-"):
        return BOTTLEROCKET_ECOSYSTEM, BOTTLEROCKET_SOURCE
    return None


class _Bounded(io.RawIOBase):
    """A reader that fails once more than `limit` bytes came through (a gzip bomb stops here)."""

    def __init__(self, inner: io.BufferedIOBase | IO[bytes], limit: int) -> None:
        self._inner = inner
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(min(len(buffer), _CHUNK))
        self._left -= len(data)
        if self._left < 0:
            raise f.TooBig("the document expands beyond its size cap")
        buffer[: len(data)] = data
        return len(data)


def _open(path: Path, max_bytes: int) -> IO[bytes]:
    raw = path.open("rb")
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        inner: io.BufferedIOBase | IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb")
    else:
        raw.seek(0)
        inner = raw
    return io.BufferedReader(_Bounded(inner, max_bytes), _CHUNK)


def looks_like_updateinfo(head: bytes) -> bool:
    """Whether a (decompressed) file start is an updateinfo document."""
    return b"<updates" in head and (b"<update " in head or b"<update>" in head)


def _evr(pkg: ET.Element, where: str) -> tuple[str, str]:
    name = f.ident(pkg.get("name"), f"{where} package name")
    version = f.version(pkg.get("version"), f"{where} {name} version")
    release = f.version(pkg.get("release"), f"{where} {name} release")
    epoch = (pkg.get("epoch") or "0").strip()
    evr = f"{version}-{release}" if epoch in ("", "0") else f"{epoch}:{version}-{release}"
    try:
        _SCHEME.key(evr)
    except InvalidVersion as e:
        raise f.BadRecord(f"{where} {name}: {e}") from e
    return name, evr


def _text(el: ET.Element, child: str, where: str) -> str:
    found = el.find(child)
    return f.text(found.text if found is not None else None, f"{where} {child}").strip()


def _date(el: ET.Element, child: str, where: str) -> datetime | None:
    found = el.find(child)
    return f.timestamp(found.get("date") if found is not None else None, f"{where} {child}")


def parse_update(el: ET.Element, where: str) -> Advisory | None:
    """One `<update>` as an Advisory; None for non-security updates. Raises BadRecord."""
    if (el.get("type") or "security") != "security":
        return None
    aid = f.ident(_text(el, "id", where), f"{where} id")
    where = f"{where}:{aid}"
    placed = ecosystem_of(aid)
    if placed is None:
        raise f.BadRecord(f"{where}: id names no Amazon Linux or Bottlerocket release")
    ecosystem, source = placed
    fixed: dict[str, str] = {}
    for pkg in el.iterfind("pkglist/collection/package"):
        name, evr = _evr(pkg, where)
        prev = fixed.get(name)
        if prev is None or _SCHEME.compare(evr, prev) < 0:
            fixed[name] = evr
    if not fixed:
        raise f.BadRecord(f"{where}: no packages")
    cves: set[str] = set()
    refs: list[Reference] = []
    for ref in el.iterfind("references/reference"):
        rid = ref.get("id") or ""
        if ref.get("type") == "cve" or _CVE.fullmatch(rid):
            cves.add(f.ident(rid, f"{where} reference id"))
        href = ref.get("href")
        if href:
            refs.append(
                Reference("WEB" if ref.get("type") == "cve" else "ADVISORY", f.text(href, where))
            )
    word = _text(el, "severity", where).lower()
    severities = (
        (Severity(SeverityType.VENDOR, word, source, rating=RATINGS[word]),)
        if word in RATINGS
        else ()
    )
    published = _date(el, "issued", where)
    modified = _date(el, "updated", where) or published
    affected = tuple(
        Affected(
            ecosystem,
            name,
            (Range(RangeType.ECOSYSTEM, (_INTRODUCED_0, Event(EventKind.FIXED, evr))),),
        )
        for name, evr in sorted(fixed.items())
    )
    return Advisory(
        id=AdvisoryID(aid),
        source=source,
        related=tuple(sorted(cves)),
        summary=_text(el, "title", where),
        details=_text(el, "description", where),
        published=published,
        modified=modified,
        references=tuple(refs),
        severities=severities,
        affected=affected,
    )


def _check_prolog(path: Path, max_bytes: int, source: str) -> None:
    with _open(path, max_bytes) as fh:
        head = fh.read(_PROLOG)
    start = head.find(b"<updates")
    prolog = head if start < 0 else head[:start]
    if b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog:
        raise FeedFormatError(source, "declares a DTD or entities; refused", path=str(path))
    if start < 0:
        raise FeedFormatError(source, "not an updateinfo document (no <updates>)", path=str(path))


def parse_file(
    path: Path, max_bytes: int = 2 << 30, source: str = AMAZON_SOURCE
) -> Iterator[FeedItem]:
    """Every security advisory of one updateinfo.xml(.gz); a bad `<update>` is a ParseProblem.

    Raises FeedFormatError when the file as a whole is unreadable, not XML, cut short, or over
    `max_bytes` decompressed.
    """
    try:
        _check_prolog(path, max_bytes, source)
        with _open(path, max_bytes) as fh:
            n = 0
            for _event, el in ET.iterparse(fh, events=("end",)):
                if el.tag != "update":
                    continue
                n += 1
                where = f"{path}#{n}"
                try:
                    adv = parse_update(el, where)
                except f.BadRecord as e:
                    logger.warning(
                        "%s: skipped %s: %s", source, where, e.reason, extra={"feed": source}
                    )
                    rid = el.findtext("id")
                    yield ParseProblem(feed=source, where=where, reason=e.reason, record_id=rid)
                    adv = None
                el.clear()
                if adv is not None:
                    yield adv
    except (ET.ParseError, EOFError, gzip.BadGzipFile, f.TooBig, OSError) as e:
        raise FeedFormatError(source, f"unreadable updateinfo: {e}", path=str(path)) from e
