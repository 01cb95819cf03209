"""Azure Linux and CBL-Mariner advisories from Microsoft's OVAL
(https://github.com/microsoft/AzureLinuxVulnerabilityData: `cbl-mariner-1.0-oval.xml`,
`cbl-mariner-2.0-oval.xml`, `azurelinux-3.0-oval.xml`).

One file per release, one definition per (CVE, package): a single criterion "Package X is earlier
than V" whose rpminfo state is `evr less than` the fixed build (`0:3.3.0-2.azl3`), or, when no
patch exists yet (`patchable` false), `less than or equal` the current build: affected up to it,
no fix. Package names are Mariner's spec (= source rpm) names, so installed packages are looked
up by their source package. The release is not written inside the file: it comes from the feed
(or, for `db import`, from the file name, else the dist tag of its versions: `.cm1`, `.cm2`,
`.azl3`). Each release is its own feed and source (`azurelinux-3.0`, ...), one advisory per CVE.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from dockwatch.feeds import oval
from dockwatch.feeds.download import DownloadPolicy, Request, Sleep, fetch_all
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
    Event,
    EventKind,
    Range,
    RangeType,
    Reference,
    Severity,
    SeverityType,
    is_cve,
    to_utc,
)

logger = logging.getLogger(__name__)

BASE_URL = "https://raw.githubusercontent.com/microsoft/AzureLinuxVulnerabilityData/main/"
#: release -> (feed and source name, file name)
RELEASES: dict[str, tuple[str, str]] = {
    "1.0": ("cbl-mariner-1.0", "cbl-mariner-1.0-oval.xml"),
    "2.0": ("cbl-mariner-2.0", "cbl-mariner-2.0-oval.xml"),
    "3.0": ("azurelinux-3.0", "azurelinux-3.0-oval.xml"),
}
PRODUCTS = ("CBL-Mariner OVAL", "Azure Linux OVAL")
"""How the files' `generator/product_name` starts."""
MAX_DOCUMENT = 1 << 30
_FILE_RELEASE = re.compile(r"(?:cbl-mariner|azurelinux)-(\d+\.\d+)-oval", re.IGNORECASE)
_DIST_TAG = re.compile(r"\.(cm1|cm2|azl3)$")
_DIST_RELEASE = {"cm1": "1.0", "cm2": "2.0", "azl3": "3.0"}
_SEVERITY_ORDER = ("critical", "high", "medium", "low")
_CVE_TITLE = re.compile(r"(CVE-\d{4}-\d{4,})")


def ecosystem(release: str) -> str:
    """`Azure Linux:3.0` (the distros table's ecosystem of every Mariner / Azure Linux row)."""
    return f"Azure Linux:{release}"


def release_of(path: Path, doc: oval.Document) -> str:
    """The release a file is about: its name, else the dist tag most of its versions carry."""
    m = _FILE_RELEASE.search(path.name)
    if m and m.group(1) in RELEASES:
        return m.group(1)
    tags: dict[str, int] = {}
    for test in doc.tests.values():
        evr = test.evr
        t = _DIST_TAG.search(evr[1]) if evr else None
        if t:
            tags[t.group(1)] = tags.get(t.group(1), 0) + 1
    if tags:
        return _DIST_RELEASE[max(tags, key=lambda k: tags[k])]
    raise FeedFormatError(
        "azurelinux", "cannot tell the release (name or dist tag)", path=str(path)
    )


def _worst(words: list[str]) -> str | None:
    known = [w for w in words if w.lower() in _SEVERITY_ORDER]
    return min(known, key=lambda w: _SEVERITY_ORDER.index(w.lower())) if known else None


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return to_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def _version(evr: str) -> str:
    return evr[2:] if evr.startswith("0:") else evr


@dataclass
class _Cve:
    events: dict[str, set[tuple[EventKind, str]]] = field(default_factory=dict)
    severities: dict[str, list[str]] = field(default_factory=dict)
    published: list[datetime] = field(default_factory=list)
    urls: set[str] = field(default_factory=set)
    titles: list[str] = field(default_factory=list)


def parse_document(doc: oval.Document, release: str, where: str) -> Iterator[FeedItem]:
    """One advisory per CVE of one release's document."""
    source = RELEASES[release][0]
    eco = ecosystem(release)
    acc: dict[str, _Cve] = {}
    for definition in doc.definitions:
        cve = next(
            (
                r.ref_id
                for r in definition.references
                if r.source.upper() == "CVE" and is_cve(r.ref_id)
            ),
            None,
        )
        if cve is None:
            m = _CVE_TITLE.search(definition.title)
            cve = m.group(1) if m else None
        if cve is None:
            yield ParseProblem(source, f"{where}:{definition.id}", "no CVE in references or title")
            continue
        try:
            checks = list(oval.package_checks(definition, doc.tests))
        except oval.OvalUnsupported as exc:
            yield ParseProblem(source, f"{where}:{definition.id}", str(exc), record_id=cve)
            continue
        if not checks:
            yield ParseProblem(source, f"{where}:{definition.id}", "no package test", record_id=cve)
            continue
        entry = acc.setdefault(cve, _Cve())
        for check in checks:
            kind = EventKind.FIXED if check.operation == "less than" else EventKind.LAST_AFFECTED
            entry.events.setdefault(check.name, set()).add((kind, _version(check.evr)))
            if definition.severity:
                entry.severities.setdefault(check.name, []).append(definition.severity)
        when = _when(definition.issued)
        if when is not None:
            entry.published.append(when)
        entry.urls.update(r.ref_url for r in definition.references if r.ref_url)
        entry.titles.append(definition.title)
    for cve in sorted(acc):
        entry = acc[cve]
        affected = []
        for name, events in sorted(entry.events.items()):
            ranges = tuple(
                Range(RangeType.ECOSYSTEM, (Event(EventKind.INTRODUCED, "0"), Event(kind, v)))
                for kind, v in sorted(events)
            )
            word = _worst(entry.severities.get(name, []))
            sev = (
                (Severity(SeverityType.VENDOR, word, source, rating=word.upper()),) if word else ()
            )
            affected.append(Affected(eco, name, ranges, severities=sev))
        word = _worst([w for ws in entry.severities.values() for w in ws])
        yield Advisory(
            id=AdvisoryID(cve),
            source=source,
            summary=entry.titles[0],
            published=min(entry.published) if entry.published else None,
            references=tuple(Reference("ADVISORY", u) for u in sorted(entry.urls)),
            severities=(Severity(SeverityType.VENDOR, word, source, rating=word.upper()),)
            if word
            else (),
            affected=tuple(affected),
        )


def parse_file(path: Path, release: str | None = None) -> Iterator[FeedItem]:
    """The advisories of one release file; raises FeedFormatError for an unusable file."""
    doc = oval.read(path, feed="azurelinux", max_bytes=MAX_DOCUMENT)
    if not doc.product.startswith(PRODUCTS):
        raise FeedFormatError(
            "azurelinux", f"not Microsoft's OVAL ({doc.product!r})", path=str(path)
        )
    yield from parse_document(doc, release or release_of(path, doc), str(path))


def source_of(path: Path) -> str:
    """The source name of an importable file (by its release)."""
    doc = oval.read(path, feed="azurelinux", max_bytes=MAX_DOCUMENT)
    return RELEASES[release_of(path, doc)][0]


def _verify(path: Path) -> None:
    """The download is a whole OVAL document (a cut-off XML file does not parse)."""
    try:
        oval.read(path, feed="azurelinux", max_bytes=MAX_DOCUMENT)
    except FeedFormatError as exc:
        raise ValueError(exc.message) from exc


@dataclass
class AzureLinuxFeed:
    """One release's OVAL file from Microsoft's repository, fetched with a conditional GET."""

    release: str = "3.0"
    """`1.0`, `2.0` or `3.0`."""
    base_url: str = BASE_URL
    policy: DownloadPolicy = field(default_factory=DownloadPolicy)
    sleep: Sleep = time.sleep
    """Injected for tests of Retry-After."""
    kind: FeedKind = "vulnerability"
    version: int = 1

    @property
    def name(self) -> str:
        """`cbl-mariner-1.0`, `cbl-mariner-2.0`, `azurelinux-3.0`."""
        return RELEASES[self.release][0]

    @property
    def url(self) -> str:
        """The file's URL."""
        return self.base_url + RELEASES[self.release][1]

    def fetch(self, prev: Fingerprint | None, http: httpx.Client) -> Fetched | Unchanged:
        """Conditional download, verified by parsing it whole."""
        req = Request(url=self.url, filename=RELEASES[self.release][1], verify=_verify)
        return fetch_all(self.name, http, [req], prev, self.policy, self.sleep)

    def parse(self, fetched: Fetched) -> Iterator[FeedItem]:
        """The advisories of the fetched file."""
        for ff in fetched.files:
            yield from parse_file(ff.path, self.release)
