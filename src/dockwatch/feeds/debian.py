"""Debian security tracker JSON (https://security-tracker.debian.org/tracker/data/json).

Shape (written by `_get_json` in the tracker's bin/tracker_service.py,
https://salsa.debian.org/security-tracker-team/security-tracker/-/blob/master/bin/tracker_service.py):
`{source package: {CVE-or-TEMP id: {description?, debianbug?, scope?, releases: {codename:
{status, repositories, fixed_version?, urgency?, nodsa?, nodsa_reason?, next_point_update?}}}}}`,
with null fields removed. What the values mean, as Debian uses them:

- status `resolved` + fixed_version `V`: versions before V are affected, V fixes it.
- status `resolved` + fixed_version `0`: this release never had the vulnerable code
  (`<not-affected>` in data/CVE/list): NOT_AFFECTED.
- status `open`: affected and unfixed. Urgency `end-of-life` means the package is no longer
  security-supported in that release, so no fix will come: WONT_FIX. `unimportant` is still
  affected, rated NEGLIGIBLE. `nodsa`/`nodsa_reason` (`ignored`, `postponed`) say no DSA is
  planned; the package stays affected.
- status `undetermined`: nobody has checked yet: UNDETERMINED.

One Advisory per CVE (or TEMP id) gathers every (source package, release) entry; releases the
distros table does not list (sid, experimental) are left out. Releases past Debian LTS
(`EXTENDED_LTS`: jessie, stretch, buster) are read from Freexian's Extended LTS tracker only
(feeds/debian_elts.py), which publishes the same JSON: the Debian tracker stops maintaining a
release's entries when its LTS ends.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from dockwatch import distros
from dockwatch.feeds import fields as f
from dockwatch.feeds.download import SingleFileFeed, Verify, verify_json
from dockwatch.feeds.feed import (
    FeedFormatError,
    FeedItem,
    FeedKind,
    ParseProblem,
)
from dockwatch.model.advisory import (
    Advisory,
    AdvisoryID,
    Affected,
    AffectedStatus,
    Event,
    EventKind,
    Range,
    RangeType,
    Reference,
    Severity,
    SeverityType,
)
from dockwatch.value_class import frozen

logger = logging.getLogger(__name__)

DEBIAN_TRACKER_URL = "https://security-tracker.debian.org/tracker/data/json"
SOURCE = "debian"

_URGENCY_RATINGS = {
    "unimportant": "NEGLIGIBLE",
    "low": "LOW",
    "medium": "MEDIUM",
    "high": "HIGH",
}
_NO_RATING = frozenset({"not yet assigned", "end-of-life", ""})
_INTRODUCED_0 = Event(EventKind.INTRODUCED, "0")


def urgency_severity(urgency: str, source: str = SOURCE) -> Severity | None:
    """Debian's urgency as a vendor Severity; `**` marks an urgency derived from NVD."""
    u = urgency.strip()
    base = u.rstrip("*")
    if base in _NO_RATING:
        return None
    return Severity(SeverityType.VENDOR, u, source, rating=_URGENCY_RATINGS.get(base))


@frozen
class Tracker:
    """One publisher of the tracker's JSON: its feed name, its web pages, the releases it speaks
    for."""

    source: str
    """Feed name."""
    pages: str
    """Base URL of its per-issue pages."""
    extended: bool
    """True for Freexian's Extended LTS tracker: it alone speaks for EXTENDED_LTS releases."""

    def covers(self, codename: str) -> bool:
        """Whether this tracker's entries for `codename` are read."""
        return (codename in EXTENDED_LTS) == self.extended


EXTENDED_LTS = frozenset({"jessie", "stretch", "buster"})
"""Releases past Debian LTS, security-supported by Freexian's Extended LTS: the Debian tracker
no longer maintains their entries, so they are read from the ELTS tracker only."""
DEBIAN = Tracker(SOURCE, "https://security-tracker.debian.org/tracker", extended=False)


def parse_release(
    pkg: str, codename: str, rel: object, where: str, tracker: Tracker = DEBIAN
) -> Affected | None:
    """One (package, release) entry as an Affected; None for releases the table lacks or
    another tracker speaks for."""
    release = distros.by_feed_release("debian", codename)
    if release is None or not tracker.covers(codename):
        return None
    r = f.obj(rel, where)
    status = f.text(r.get("status"), f"{where}.status", limit=32)
    urgency = f.text(r.get("urgency"), f"{where}.urgency", limit=64)
    fixed = r.get("fixed_version")
    sev = urgency_severity(urgency, tracker.source)
    severities = (sev,) if sev is not None else ()
    ranges: tuple[Range, ...] = ()
    if status == "resolved":
        if fixed is None or fixed == "":
            state = AffectedStatus.UNDETERMINED  # resolved without a version: not enough to match
            ranges = (Range(RangeType.ECOSYSTEM, (_INTRODUCED_0,)),)
        elif fixed == "0":
            state = AffectedStatus.NOT_AFFECTED
        else:
            v = f.version(fixed, f"{where}.fixed_version")
            state = AffectedStatus.AFFECTED
            ranges = (Range(RangeType.ECOSYSTEM, (_INTRODUCED_0, Event(EventKind.FIXED, v))),)
    elif status == "open":
        state = (
            AffectedStatus.WONT_FIX
            if urgency.rstrip("*") == "end-of-life"
            else AffectedStatus.AFFECTED
        )
        ranges = (Range(RangeType.ECOSYSTEM, (_INTRODUCED_0,)),)
    elif status == "undetermined":
        state = AffectedStatus.UNDETERMINED
        ranges = (Range(RangeType.ECOSYSTEM, (_INTRODUCED_0,)),)
    else:
        raise f.BadRecord(f"{where}: unknown status {status[:32]!r}")
    return Affected(
        ecosystem=release.ecosystem,
        name=pkg,
        ranges=ranges,
        status=state,
        severities=severities,
    )


def parse_document(
    doc: object, where: str, tracker: Tracker = DEBIAN
) -> Iterator[Advisory | ParseProblem]:
    """Every advisory in a decoded tracker document, grouped by CVE (or TEMP id)."""
    if not isinstance(doc, dict):
        raise FeedFormatError(tracker.source, "top level is not an object", path=where)
    by_id: dict[str, list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)
    for pkg, issues in doc.items():
        if not isinstance(issues, dict) or not pkg or len(pkg) > 256:
            yield _problem(f"{where}:{str(pkg)[:64]}", "package entry is not an object", None)
            continue
        for issue_id, issue in issues.items():
            if not isinstance(issue, dict) or not isinstance(issue_id, str):
                yield _problem(f"{where}:{pkg}", f"{str(issue_id)[:64]}: not an object", None)
                continue
            by_id[issue_id].append((pkg, issue))
    for issue_id in sorted(by_id):
        try:
            adv = _advisory(issue_id, by_id[issue_id], where, tracker)
        except f.BadRecord as e:
            yield _problem(f"{where}:{issue_id[:64]}", e.reason, issue_id[:128])
            continue
        yield adv


def _advisory(
    issue_id: str, entries: list[tuple[str, Mapping[str, Any]]], where: str, tracker: Tracker
) -> Advisory:
    adv_id = f.ident(issue_id, "id")
    description = ""
    bugs: set[int] = set()
    affected: list[Affected] = []
    for pkg, issue in sorted(entries, key=lambda e: e[0]):
        description = description or f.text(issue.get("description"), "description")
        bug = issue.get("debianbug")
        if isinstance(bug, int) and not isinstance(bug, bool) and 0 < bug < 1 << 31:
            bugs.add(bug)
        releases = f.obj(issue.get("releases") or {}, f"{pkg}.releases")
        for codename in sorted(releases):
            a = parse_release(pkg, codename, releases[codename], f"{pkg}.{codename}", tracker)
            if a is not None:
                affected.append(a)
    refs = [Reference("ADVISORY", f"{tracker.pages}/{adv_id}")]
    refs.extend(Reference("REPORT", f"https://bugs.debian.org/{b}") for b in sorted(bugs))
    affected.sort(key=lambda a: (a.name, a.ecosystem))
    return Advisory(
        id=AdvisoryID(adv_id),
        source=tracker.source,
        summary=description,
        references=tuple(refs),
        affected=tuple(affected),
    )


def _problem(where: str, reason: str, record_id: str | None) -> ParseProblem:
    logger.warning("debian: skipped %s: %s", where, reason, extra={"feed": SOURCE})
    return ParseProblem(feed=SOURCE, where=where, reason=reason, record_id=record_id)


def parse_file(
    path: str, max_bytes: int = 2 << 30, tracker: Tracker = DEBIAN
) -> Iterator[Advisory | ParseProblem]:
    """Parse one tracker JSON file; FeedFormatError if it is not JSON or too big."""
    yield from parse_document(f.load_json_file(path, max_bytes, tracker.source), path, tracker)


@dataclass
class DebianFeed(SingleFileFeed):
    """The Debian security tracker."""

    url: str = DEBIAN_TRACKER_URL
    name: str = SOURCE
    kind: FeedKind = "vulnerability"
    filename: ClassVar[str] = "debian.json"
    verify: ClassVar[Verify] = staticmethod(verify_json)

    def parse_file(self, path: Path) -> Iterator[FeedItem]:
        """The records of one file."""
        yield from parse_file(str(path), self.policy.max_bytes)
