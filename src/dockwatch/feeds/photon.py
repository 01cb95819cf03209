"""Photon OS CVE metadata (`<base>/cve_data_photon<release>.json`, one file per release).

Each file is a JSON array of rows `{"cve_id", "pkg", "cve_score", "aff_ver", "res_ver",
"status"?}` as Photon publishes them at https://packages.broadcom.com/photon/photon_cve_metadata/
(formerly packages.vmware.com; `photon_versions.json` there lists the branches). What the values
mean, as the published rows use them:

- `res_ver` is the release that fixes the flaw (`7.88.1-4.ph4`), `aff_ver` says the same in words
  (`all versions before 7.88.1-4.ph4 are vulnerable`); `NA` or empty when there is none.
- `status` is `Fixed` or `Not Affected` (older 3.0 rows have no status: a `res_ver` is the fix).
  `Fixed` without a version cannot be matched (UNDETERMINED). Words for an open flaw (`Affected`,
  `Won't Fix`, ...) give an affected entry with no fix, WONT_FIX for "won't fix"; the word itself
  is kept in the advisory's details, so a finding shows the vendor's own verdict.
- `pkg` is the package the advisory names: the spec (source) name, sometimes a subpackage
  (`curl-libs`). Versions are rpm's; the release is not in the rows, only in the file name (and
  in the `.phN` suffix of fixed versions, used when the file was renamed).

One Advisory per id (a CVE, sometimes a Black Duck `BDSA-…` id) gathers every (release, package)
of the files read.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from dockwatch import distros
from dockwatch.feeds import fields as f
from dockwatch.feeds.download import DownloadPolicy, Request, Sleep, fetch_all, verify_json
from dockwatch.feeds.feed import (
    FeedFormatError,
    FeedItem,
    FeedKind,
    Fetched,
    Fingerprint,
    ParseProblem,
    Unchanged,
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
    Severity,
    SeverityType,
)
from dockwatch.value_class import frozen

logger = logging.getLogger(__name__)

BASE_URL = "https://packages.broadcom.com/photon/photon_cve_metadata"
SOURCE = "photon"
OS_ID = "photon"
_NA = frozenset({"", "na", "n/a", "none"})
_RELEASE = re.compile(r"\d{1,2}\.\d{1,2}")
_FILE_RELEASE = re.compile(r"photon(\d{1,2}\.\d{1,2})")
_DIST_TAG = re.compile(r"\.ph(\d{1,2})(?:\W|$)")
_BEFORE = re.compile(r"all versions before (\S+) are vulnerable", re.IGNORECASE)
_INTRODUCED_0 = Event(EventKind.INTRODUCED, "0")
_WONT_FIX = frozenset({"won't fix", "wont fix", "will not fix", "won't-fix", "wontfix"})
_OPEN = frozenset({"affected", "vulnerable", "unfixed", "not fixed", "open"})
_PENDING = frozenset({"under investigation", "investigating", "pending", "unknown"})


@frozen
class Verdict:
    """What one row says about one package in one release."""

    status: AffectedStatus
    fixed: str | None
    word: str
    """The vendor's status as published (`Fixed`, `Not Affected`, ...), or `Fixed` implied."""
    score: float | None


# id -> (ecosystem, package) -> verdicts
_Acc = dict[str, dict[tuple[str, str], list[Verdict]]]


def release_of(path: Path, label: str, rows: Sequence[object]) -> str | None:
    """The Photon release (`4.0`) a file is about: its label, its name, else the `.phN` suffix
    its fixed versions share."""
    if _RELEASE.fullmatch(label):
        return label
    for text in (label, path.name):
        m = _FILE_RELEASE.search(text)
        if m:
            return m.group(1)
    tags = set()
    for row in rows:
        if isinstance(row, dict) and isinstance(row.get("res_ver"), str):
            m = _DIST_TAG.search(row["res_ver"])
            if m:
                tags.add(m.group(1))
    return f"{tags.pop()}.0" if len(tags) == 1 else None


def verdict(row: dict[str, object], where: str) -> Verdict:
    """One row's verdict; BadRecord for a status this parser does not know."""
    word = f.text(row.get("status"), f"{where}.status", limit=64).strip()
    res = f.text(row.get("res_ver"), f"{where}.res_ver", limit=256).strip()
    aff = f.text(row.get("aff_ver"), f"{where}.aff_ver", limit=512).strip()
    fixed: str | None = None
    if res.lower() not in _NA:
        fixed = f.version(res, f"{where}.res_ver")
    elif (m := _BEFORE.fullmatch(aff)) is not None:
        fixed = f.version(m.group(1), f"{where}.aff_ver")
    score = _score(row.get("cve_score"))
    s = word.lower()
    if s == "not affected":
        return Verdict(AffectedStatus.NOT_AFFECTED, None, word, score)
    if s in _WONT_FIX:
        return Verdict(AffectedStatus.WONT_FIX, None, word, score)
    if s in ("", "fixed"):
        if fixed is not None:
            return Verdict(AffectedStatus.AFFECTED, fixed, word or "Fixed", score)
        if s == "fixed":  # said fixed, but not in which release: nothing to compare against
            return Verdict(AffectedStatus.UNDETERMINED, None, word, score)
        raise f.BadRecord(f"{where}: neither a status nor a fixed version")
    if s in _OPEN:
        return Verdict(AffectedStatus.AFFECTED, fixed, word, score)
    if s in _PENDING:
        return Verdict(AffectedStatus.UNDETERMINED, None, word, score)
    raise f.BadRecord(f"{where}: unknown status {word[:40]!r}")


def _score(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    score = float(value)
    return score if math.isfinite(score) and 0.0 <= score <= 10.0 else None


def collect_document(
    doc: object, where: str, release: str | None, acc: _Acc
) -> Iterator[ParseProblem]:
    """Add one decoded file's rows to `acc`; yields a problem per bad row."""
    if not isinstance(doc, list):
        raise FeedFormatError(SOURCE, "not Photon CVE metadata (no top-level array)", path=where)
    if release is None:
        raise FeedFormatError(SOURCE, "cannot tell which Photon release this file is", path=where)
    row_release = distros.by_feed_release(OS_ID, release)
    if row_release is None:
        yield _problem(where, f"Photon OS {release} is not a supported release; file skipped")
        return
    for i, item in enumerate(doc):
        at = f"{where}[{i}]"
        try:
            row = f.obj(item, at)
            vid = f.ident(row.get("cve_id"), f"{at}.cve_id")
            pkg = f.ident(row.get("pkg"), f"{at}.pkg")
            v = verdict(dict(row), at)
        except f.BadRecord as e:
            yield _problem(at, e.reason)
            continue
        acc.setdefault(vid, {}).setdefault((row_release.ecosystem, pkg), []).append(v)


def _affected(ecosystem: str, pkg: str, verdicts: list[Verdict]) -> Affected:
    """One entry from every row about (release, package): a fix wins, then won't-fix, then an
    open flaw, then undetermined; only rows that all say `Not Affected` mean not affected."""
    fixes = sorted({v.fixed for v in verdicts if v.fixed is not None})
    states = {v.status for v in verdicts}
    if AffectedStatus.WONT_FIX in states and not any(
        v.status is AffectedStatus.AFFECTED and v.fixed for v in verdicts
    ):
        status = AffectedStatus.WONT_FIX
        fixes = []
    elif fixes:
        status = AffectedStatus.AFFECTED
    elif AffectedStatus.AFFECTED in states:
        status = AffectedStatus.AFFECTED
    elif AffectedStatus.UNDETERMINED in states:
        status = AffectedStatus.UNDETERMINED
    else:
        return Affected(ecosystem, pkg, status=AffectedStatus.NOT_AFFECTED)
    events = (_INTRODUCED_0, *(Event(EventKind.FIXED, v) for v in fixes))
    return Affected(ecosystem, pkg, (Range(RangeType.ECOSYSTEM, events),), status=status)


def _rating(score: float) -> str:
    """CVSS v3 qualitative bands for Photon's score."""
    if score >= 9.0:
        return "CRITICAL"
    if score >= 7.0:
        return "HIGH"
    if score >= 4.0:
        return "MEDIUM"
    return "LOW" if score > 0.0 else "NONE"


def build_advisories(acc: _Acc) -> Iterator[Advisory]:
    """One Advisory per id, entries sorted for a stable fingerprint."""
    for vid in sorted(acc):
        affected: list[Affected] = []
        lines: list[str] = []
        scores: list[float] = []
        for (ecosystem, pkg), verdicts in sorted(acc[vid].items()):
            affected.append(_affected(ecosystem, pkg, verdicts))
            scores += [v.score for v in verdicts if v.score is not None]
            release = distros.by_ecosystem(ecosystem)
            title = release.title if release else ecosystem
            for v in verdicts:
                said = f"{v.word} in {v.fixed}" if v.fixed else v.word
                lines.append(f"{title} {pkg}: {said}")
        severities: tuple[Severity, ...] = ()
        if scores:
            top = max(scores)
            severities = (
                Severity(SeverityType.VENDOR, f"{top:g}", SOURCE, top, rating=_rating(top)),
            )
        yield Advisory(
            id=AdvisoryID(vid),
            source=SOURCE,
            details="\n".join(dict.fromkeys(lines)),
            severities=severities,
            affected=tuple(affected),
        )


def _problem(where: str, reason: str) -> ParseProblem:
    logger.warning("photon: skipped %s: %s", where, reason, extra={"feed": SOURCE})
    return ParseProblem(feed=SOURCE, where=where, reason=reason)


def parse_files(
    files: Sequence[tuple[Path, str]], max_bytes: int = 1 << 30
) -> Iterator[Advisory | ParseProblem]:
    """Advisories from Photon files given as (path, release label or "")."""
    acc: _Acc = {}
    for path, label in files:
        doc = f.load_json_file(path, max_bytes, SOURCE)
        rows = doc if isinstance(doc, list) else []
        yield from collect_document(doc, str(path), release_of(path, label, rows), acc)
    yield from build_advisories(acc)


def default_releases() -> tuple[str, ...]:
    """The Photon releases of the distros table (`3.0`, `4.0`, `5.0`)."""
    return tuple(r.feed_release for r in distros.RELEASES if r.os_id == OS_ID)


@dataclass
class PhotonFeed:
    """Photon's CVE metadata, every release of the table as one feed."""

    base_url: str = BASE_URL
    """Folder of `cve_data_photon<release>.json`."""
    releases: tuple[str, ...] = field(default_factory=default_releases)
    """Releases to fetch (`5.0`, ...)."""
    policy: DownloadPolicy = field(default_factory=DownloadPolicy)
    """Download bounds."""
    sleep: Sleep = time.sleep
    """Injected for tests of Retry-After."""
    name: str = SOURCE
    kind: FeedKind = "vulnerability"
    version: int = 1

    def requests(self) -> list[Request]:
        """One request per release."""
        base = self.base_url.rstrip("/")
        return [
            Request(
                url=f"{base}/cve_data_photon{r}.json",
                filename=f"cve_data_photon{r}.json",
                label=r,
                verify=verify_json,
            )
            for r in self.releases
        ]

    def fetch(self, prev: Fingerprint | None, http: httpx.Client) -> Fetched | Unchanged:
        """Conditional download of every release file."""
        return fetch_all(self.name, http, self.requests(), prev, self.policy, self.sleep)

    def parse(self, fetched: Fetched) -> Iterator[FeedItem]:
        """Every advisory across the fetched files."""
        yield from parse_files([(ff.path, ff.label) for ff in fetched.files], self.policy.max_bytes)
