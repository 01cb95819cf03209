"""Oracle Linux errata (ELSA) from Oracle's OVAL (`https://linux.oracle.com/security/oval/`).

One file covers every release (`com.oracle.elsa-all.xml.bz2`; the per-year files
`com.oracle.elsa-YYYY.xml.bz2` hold the same definitions). A definition is one ELSA: its CVEs in
`reference source="CVE"` (and `advisory/cve`), its severity in `advisory/severity`, and a criteria
tree whose paths read "Oracle Linux N is installed" AND ("Oracle Linux arch is A" AND) ("X is
earlier than EVR" AND "X is signed with the Oracle Linux N key"). Packages are *binary* rpm
names; the fix is the `evr less than` state.

How the paths become advisories (the choices are documented in docs/distributions.md):

- the release is read from the gate test on `oraclelinux-release` (`version` pattern `^N`); a
  path without one, or for a release the distros table does not list (5, 6), is not kept;
- Ksplice (`.ksplice1.` releases, "is ksplice-based") and FIPS (`_fips` releases, "is fips
  patched") builds are separate lineages installed only on systems that opted in; their paths are
  left out, so ordinary builds are compared with ordinary fixes only;
- architecture branches (aarch64, x86_64) usually repeat the same fix; when they differ, each
  distinct fix is its own range, so a package is reported until the highest of them (a package
  of the earlier-fixed architecture may be reported with the later fix: never missed);
- a `version` pattern on the package test (the kernel stream of UEK, `5.15.0`) becomes the
  range's `introduced`, so another stream's kernel is not compared with this fix.
"""

from __future__ import annotations

import bz2
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from dockwatch import distros
from dockwatch.feeds import oval
from dockwatch.feeds.download import SingleFileFeed, Verify
from dockwatch.feeds.feed import FeedItem, FeedKind, ParseProblem
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
    is_cve,
)

logger = logging.getLogger(__name__)

SOURCE = "oracle"
URL = "https://linux.oracle.com/security/oval/com.oracle.elsa-all.xml.bz2"
OS_ID = "ol"
RELEASE_PACKAGE = "oraclelinux-release"
_ELSA = re.compile(r"ELSA-\d{4}-\d{4,}(?:-\d+)?")
_MAJOR = re.compile(r"\^?(\d+)")
_STREAM = re.compile(r"\^?(\d+(?:\\?\.\d+)*)(?:\\?\.)?")
_VARIANT_COMMENTS = ("is ksplice-based", "is fips patched")
_RATINGS = {"IMPORTANT": "HIGH", "MODERATE": "MEDIUM"}
"""Oracle's words (Red Hat's scale) as qualitative ratings; CRITICAL and LOW are the same."""
MAX_DOCUMENT = 16 << 30
"""Largest decompressed document read (the all-releases file is a few GiB once unpacked)."""


def verify_bz2(path: Path) -> None:
    """The bz2 stream is complete (its block CRCs and end marker check out)."""
    with bz2.open(path, "rb") as fh:
        while fh.read(1 << 16):
            pass


def ecosystem(release: str) -> str | None:
    """`Oracle Linux:9` for a release the distros table lists, else None."""
    row = distros.by_feed_release(OS_ID, release)
    return row.ecosystem if row is not None else None


def _releases(gates: tuple[tuple[oval.Test, ...], ...]) -> set[str] | None:
    """The releases the path's `oraclelinux-release` gates allow (None: no such gate)."""
    allowed: set[str] | None = None
    for group in gates:
        found = set()
        for test in group:
            if test.object_name != RELEASE_PACKAGE:
                continue
            for state in test.states:
                if state.version is not None and state.arch is None:
                    m = _MAJOR.match(state.version[1])
                    if m:
                        found.add(m.group(1))
        if found:
            allowed = found if allowed is None else allowed & found
    return allowed


def _variant(check: oval.PackageCheck) -> bool:
    """A Ksplice or FIPS build path (see the module docstring)."""
    evr = check.evr.lower()
    if ".ksplice" in evr or "_fips" in evr:
        return True
    return any(t.comment.strip().endswith(_VARIANT_COMMENTS) for g in check.gates for t in g)


def _stream(check: oval.PackageCheck) -> str:
    """The `introduced` of the check: its kernel stream pattern, else 0."""
    for state in check.test.states:
        if state.version is not None and state.evr is not None:
            m = _STREAM.fullmatch(state.version[1].strip())
            if m:
                return m.group(1).replace("\\", "")
    return "0"


def _fix(evr: str) -> str:
    """The fixed version as rpm shows it: a zero epoch is dropped (it orders the same)."""
    return evr[2:] if evr.startswith("0:") else evr


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value[:10]).replace(tzinfo=UTC)
    except ValueError:
        return None


def advisory(definition: oval.Definition, tests: dict[str, oval.Test]) -> Advisory | ParseProblem:
    """The ELSA of one definition, or why it cannot be read."""
    elsa = next((r.ref_id for r in definition.references if _ELSA.fullmatch(r.ref_id)), None)
    if elsa is None:
        m = _ELSA.search(definition.title)
        elsa = m.group(0) if m else None
    if elsa is None:
        return ParseProblem(SOURCE, definition.id, "no ELSA id in references or title")
    try:
        checks = list(oval.package_checks(definition, tests))
    except oval.OvalUnsupported as exc:
        return ParseProblem(SOURCE, definition.id, str(exc), record_id=elsa)
    ranges: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for check in checks:
        if check.operation != "less than" or _variant(check):
            continue
        for release in sorted(_releases(check.gates) or ()):
            eco = ecosystem(release)
            if eco is not None:
                key = (eco, check.name)
                ranges.setdefault(key, set()).add((_stream(check), _fix(check.evr)))
    cves = sorted(
        {c for c in definition.cves if is_cve(c)}
        | {
            r.ref_id
            for r in definition.references
            if r.source.upper() == "CVE" and is_cve(r.ref_id)
        }
    )
    affected = tuple(
        Affected(
            eco,
            name,
            tuple(
                Range(
                    RangeType.ECOSYSTEM, (Event(EventKind.INTRODUCED, i), Event(EventKind.FIXED, f))
                )
                for i, f in sorted(pairs)
            ),
        )
        for (eco, name), pairs in sorted(ranges.items())
    )
    severities: tuple[Severity, ...] = ()
    if definition.severity:
        word = definition.severity.strip()
        rating = _RATINGS.get(word.upper(), word.upper())
        severities = (Severity(SeverityType.VENDOR, word, SOURCE, rating=rating),)
    refs = tuple(
        Reference("ADVISORY" if r.source.lower() == "elsa" else "WEB", r.ref_url)
        for r in definition.references
        if r.ref_url
    )
    return Advisory(
        id=AdvisoryID(elsa),
        source=SOURCE,
        related=tuple(cves),
        summary=definition.title.split(":", 1)[-1].strip()
        if ":" in definition.title
        else definition.title,
        details=definition.description,
        published=_when(definition.issued),
        references=refs,
        severities=severities,
        affected=affected,
    )


def parse_file(path: Path, max_bytes: int = MAX_DOCUMENT) -> Iterator[FeedItem]:
    """The ELSAs of one OVAL file (plain or bz2); raises FeedFormatError for an unusable file.

    Definitions that name no supported release yield nothing: the all-releases file also
    carries Oracle Linux 5 and 6.
    """
    doc = oval.read(path, feed=SOURCE, max_bytes=max_bytes)
    for definition in doc.definitions:
        item = advisory(definition, doc.tests)
        if isinstance(item, ParseProblem):
            logger.warning(
                "%s: skipped %s: %s", SOURCE, item.where, item.reason, extra={"feed": SOURCE}
            )
            yield item
        elif item.affected:
            yield item


@dataclass
class OracleFeed(SingleFileFeed):
    """Oracle's ELSA OVAL, all releases in one bz2 file, fetched with a conditional GET."""

    url: str = URL
    name: str = SOURCE
    kind: FeedKind = "vulnerability"
    filename: ClassVar[str] = "com.oracle.elsa-all.xml.bz2"
    verify: ClassVar[Verify] = staticmethod(verify_bz2)

    def parse_file(self, path: Path) -> Iterator[FeedItem]:
        """The records of one file."""
        yield from parse_file(path)
