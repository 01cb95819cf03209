"""Fedora's security updates from Bodhi (`https://bodhi.fedoraproject.org/updates/`).

Fedora publishes no OSV records; its advisories are Bodhi updates (`FEDORA-2023-6d4055d482`).
The updates API answers JSON pages `{"updates": [...], "page", "pages", "rows_per_page",
"total"}`, queried per release with `type=security&status=stable&releases=F43`. Each update
lists the *source* builds it pushed (`builds[].nvr`, `httpd-2.4.55-1.fc37`, with `epoch`) and
the Bugzilla bugs it closes; a security bug's title starts with the CVE (`CVE-2022-37436 httpd:
...`), which is the only place Bodhi names it. One advisory per update: every build is a `fixed`
version of its source package in ecosystem `Fedora:<release>`, matched by source rpm with rpm's
order; the CVEs of the bug titles are its related ids (the finding is filed under the CVE).
Bodhi's severity (`urgent`, `high`, `medium`, `low`) is kept as the vendor's rating.
The API has no conditional requests: a fetch is UNCHANGED when every page hashes as before.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import orjson

from dockwatch import distros
from dockwatch.feeds import fields as f
from dockwatch.feeds.download import (
    DownloadPolicy,
    Request,
    Sleep,
    download,
    feed_workdir,
    paged_result,
    verify_json,
)
from dockwatch.feeds.feed import (
    FeedItem,
    FeedKind,
    Fetched,
    FetchedFile,
    FetchError,
    Fingerprint,
    ParseProblem,
    Unchanged,
    Validator,
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
)

logger = logging.getLogger(__name__)

SOURCE = "fedora"
BODHI_URL = "https://bodhi.fedoraproject.org/updates/"


def maintained_releases(today: date) -> tuple[str, ...]:
    """Bodhi's names (`F43`) of the Fedora releases of the distros table not past end of life."""
    return tuple(
        r.feed_release
        for r in distros.RELEASES
        if r.os_id == "fedora" and (r.eol is None or r.eol >= today)
    )


_CVE = re.compile(r"\bCVE-\d{4}-\d{4,}\b")
_RATINGS = {"urgent": "CRITICAL", "high": "HIGH", "medium": "MEDIUM", "low": "LOW"}
_INTRODUCED_0 = Event(EventKind.INTRODUCED, "0")


def _nvr(nvr: str) -> tuple[str, str]:
    """`httpd-2.4.55-1.fc37` -> (`httpd`, `2.4.55-1.fc37`)."""
    parts = nvr.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        raise f.BadRecord(f"build {nvr[:80]!r} is not name-version-release")
    return parts[0], f"{parts[1]}-{parts[2]}"


def _date(value: object) -> datetime | None:
    """Bodhi's `2023-02-03 01:39:02` (UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError as e:
        raise f.BadRecord(f"bad date {value[:40]!r}") from e


def parse_update(doc: object) -> Advisory | None:
    """One stable security update as an Advisory (None for other updates). Raises BadRecord."""
    u = f.obj(doc, "update")
    if u.get("type") != "security" or u.get("status") != "stable":
        return None
    alias = f.ident(u.get("alias"), "alias")
    release = f.obj(u.get("release"), "release")
    version = f.ident(release.get("version"), "release.version")
    if release.get("id_prefix") not in (None, "FEDORA"):
        return None  # EPEL and other lineages are not Fedora releases
    ecosystem = f"Fedora:{version}"
    affected = []
    for i, build in enumerate(f.arr(u.get("builds"), "builds")):
        b = f.obj(build, f"builds[{i}]")
        if b.get("type", "rpm") != "rpm":
            continue
        name, vr = _nvr(f.ident(b.get("nvr"), f"builds[{i}].nvr"))
        epoch = b.get("epoch")
        fixed = f"{epoch}:{vr}" if isinstance(epoch, int) and epoch > 0 else vr
        events = (_INTRODUCED_0, Event(EventKind.FIXED, f.version(fixed, "nvr")))
        affected.append(Affected(ecosystem, name, (Range(RangeType.ECOSYSTEM, events),)))
    cves: set[str] = set()
    for bug in f.arr(u.get("bugs"), "bugs"):
        if isinstance(bug, dict) and bug.get("security") is not False:
            cves.update(_CVE.findall(f.text(bug.get("title"), "bugs[].title", limit=2048)))
    severities: tuple[Severity, ...] = ()
    word = u.get("severity")
    if isinstance(word, str) and word in _RATINGS:
        severities = (Severity(SeverityType.VENDOR, word, SOURCE, rating=_RATINGS[word]),)
    url = u.get("url")
    return Advisory(
        id=AdvisoryID(alias),
        source=SOURCE,
        related=tuple(sorted(cves)),
        summary=f.text(u.get("title"), "title", limit=4096),
        details=f.text(u.get("notes"), "notes"),
        published=_date(u.get("date_stable") or u.get("date_pushed")),
        modified=_date(u.get("date_modified")),
        references=(Reference("ADVISORY", url),) if isinstance(url, str) and url else (),
        severities=severities,
        affected=tuple(affected),
    )


def parse_page(doc: object, where: str) -> Iterator[FeedItem]:
    """The updates of one API page (or a file holding one update)."""
    d = f.obj(doc, "page")
    updates = d.get("updates") if "updates" in d else [d]
    for i, item in enumerate(f.arr(updates, "updates")):
        try:
            adv = parse_update(item)
        except f.BadRecord as e:
            logger.warning("fedora: skipped %s[%d]: %s", where, i, e.reason)
            yield ParseProblem(feed=SOURCE, where=f"{where}:updates[{i}]", reason=e.reason)
            continue
        if adv is not None:
            yield adv


def parse_file(path: Path, max_bytes: int = 1 << 30) -> Iterator[FeedItem]:
    """The updates of one saved page or update file."""
    try:
        doc = f.load_json_file(path, max_bytes, SOURCE)
        yield from parse_page(doc, str(path))
    except f.BadRecord as e:
        yield ParseProblem(feed=SOURCE, where=str(path), reason=e.reason)


@dataclass
class BodhiFeed:
    """Stable security updates of Fedora's maintained releases, paged per release."""

    url: str = BODHI_URL
    releases: tuple[str, ...] = ()
    """Bodhi release names to fetch; empty: the maintained releases of the distros table."""
    rows_per_page: int = 100
    max_pages: int = 500
    """Per release; past it the fetch fails rather than keep a partial feed."""
    policy: DownloadPolicy = field(default_factory=DownloadPolicy)
    sleep: Sleep = time.sleep
    name: str = SOURCE
    kind: FeedKind = "vulnerability"
    version: int = 1

    def fetch(self, prev: Fingerprint | None, http: httpx.Client) -> Fetched | Unchanged:
        """Every page of every release; UNCHANGED when every page's updates hash as before."""
        workdir = feed_workdir("fedora", self.policy.tmp_root)
        try:
            files: list[FetchedFile] = []
            parts: list[Validator] = []
            for rel in self.releases or maintained_releases(datetime.now(UTC).date()):
                page, pages = 1, 1
                while page <= pages:
                    if page > self.max_pages:
                        raise FetchError(
                            self.name, f"{rel}: more than {self.max_pages} pages", url=self.url
                        )
                    params: dict[str, str | int] = {
                        "type": "security", "status": "stable", "releases": rel,
                        "rows_per_page": self.rows_per_page, "page": page,
                    }  # fmt: skip
                    fname = f"{rel}-{page:05d}.json"
                    req = Request(
                        url=self.url, filename=fname, params=params, verify=verify_json,
                        conditional=False,
                    )  # fmt: skip
                    got = download(
                        self.name, http, req, workdir / fname, prev=None, policy=self.policy,
                        sleep=self.sleep,
                    )  # fmt: skip
                    assert got is not None  # unconditional requests never get 304
                    doc = f.obj(
                        f.load_json_file(workdir / fname, self.policy.max_bytes, SOURCE), "page"
                    )
                    total = doc.get("pages")
                    if not isinstance(total, int) or total < 0 or doc.get("page") != page:
                        raise FetchError(
                            self.name, f"{rel} page {page}: no page/pages", url=self.url
                        )
                    pages = total
                    digest = hashlib.sha256(orjson.dumps(doc.get("updates"))).hexdigest()
                    parts.append(
                        Validator(url=f"{self.url}#{rel}/{page}", sha256=digest, size=got.size)
                    )
                    files.append(
                        FetchedFile(path=workdir / fname, url=self.url, label=f"{rel}/{page}")
                    )
                    page += 1
            return paged_result(self.name, files, parts, prev, workdir)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise

    def parse(self, fetched: Fetched) -> Iterator[FeedItem]:
        """Every update of every page."""
        for ff in fetched.files:
            yield from parse_file(ff.path, self.policy.max_bytes)
