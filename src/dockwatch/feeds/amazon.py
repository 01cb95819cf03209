"""Amazon Linux's ALAS advisories, from each release's own repository metadata, and
Bottlerocket's BRSA advisories (`https://advisories.bottlerocket.aws/updateinfo.xml.gz`).

An Amazon Linux repository is found through its mirror list (one base URL per line, each naming
a snapshot of the repository by GUID); its `repodata/repomd.xml` names the `updateinfo` file,
with the SHA-256 the download is checked against. The mirror lists are fetched with conditional
requests: when every one answers 304 or hashes as before, no repository changed (a new snapshot
is a new base URL) and the feed is UNCHANGED without another request. Otherwise every release's
updateinfo is fetched, so a parse always sees the whole feed. The parser is `feeds/updateinfo.py`.

Releases (REFERENCE.md §3.3; the URLs Amazon's own `yum`/`dnf` configuration uses):
Amazon Linux 2023 (`al2023/core/mirrors/latest`), Amazon Linux 2 core (`2/core/latest`) and the
Amazon Linux AMI 2018.03 (`2018.03/updates`), x86_64 (the advisories name every architecture's
packages). Amazon Linux 2 Extras topics (their own repositories) are not fetched.
"""

from __future__ import annotations

import logging
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import urljoin

import httpx

from dockwatch.feeds import fields as f
from dockwatch.feeds import updateinfo
from dockwatch.feeds.download import (
    DownloadPolicy,
    Request,
    SingleFileFeed,
    Sleep,
    Verify,
    download,
    feed_workdir,
    verify_gzip,
)
from dockwatch.feeds.feed import (
    UNCHANGED,
    FeedItem,
    FeedKind,
    Fetched,
    FetchedFile,
    Fingerprint,
    IncompleteDownload,
    Unchanged,
    Validator,
)

logger = logging.getLogger(__name__)

MIRROR_LISTS: tuple[tuple[str, str], ...] = (
    ("2023", "https://cdn.amazonlinux.com/al2023/core/mirrors/latest/x86_64/mirror.list"),
    ("2", "https://cdn.amazonlinux.com/2/core/latest/x86_64/mirror.list"),
    ("1", "http://repo.us-west-2.amazonaws.com/2018.03/updates/x86_64/mirror.list"),
)
"""(release, mirror list URL) of every Amazon Linux release fetched."""
BOTTLEROCKET_URL = "https://advisories.bottlerocket.aws/updateinfo.xml.gz"
_REPO_NS = "{http://linux.duke.edu/metadata/repo}"
_SMALL = 1 << 20


def mirror_base(path: Path) -> str:
    """The first repository URL of a mirror list, ending in `/`; ValueError if it has none."""
    text = f.read_bounded(path, _SMALL).decode("utf-8", errors="replace")
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            if not line.startswith(("https://", "http://")):
                raise ValueError(f"mirror list names no http(s) URL: {line[:80]!r}")
            return line if line.endswith("/") else line + "/"
    raise ValueError("empty mirror list")


def verify_mirror_list(path: Path) -> None:
    """A mirror list that names a repository (a cut-off one may name none)."""
    mirror_base(path)


def updateinfo_location(path: Path) -> tuple[str, str | None]:
    """(href, sha256 or None) of the `updateinfo` entry of a repomd.xml; ValueError if none."""
    data = f.read_bounded(path, _SMALL)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ValueError("repomd.xml declares a DTD or entities")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise ValueError(f"repomd.xml is not XML: {e}") from e
    for entry in root.iter(f"{_REPO_NS}data"):
        if entry.get("type") != "updateinfo":
            continue
        location = entry.find(f"{_REPO_NS}location")
        href = location.get("href") if location is not None else None
        if not href:
            break
        checksum = entry.find(f"{_REPO_NS}checksum")
        sha = None
        if checksum is not None and checksum.get("type") == "sha256" and checksum.text:
            sha = checksum.text.strip().lower()
        return href, sha
    raise ValueError("repomd.xml lists no updateinfo")


def verify_repomd(path: Path) -> None:
    """A repomd.xml that names its updateinfo."""
    updateinfo_location(path)


@dataclass
class AmazonFeed:
    """ALAS advisories of Amazon Linux 1, 2 and 2023 (feed `amazon`)."""

    mirror_lists: tuple[tuple[str, str], ...] = MIRROR_LISTS
    """(release, mirror list URL) pairs."""
    policy: DownloadPolicy = field(default_factory=lambda: DownloadPolicy())
    """Download bounds."""
    sleep: Sleep = time.sleep
    """Injected for tests of Retry-After."""
    name: str = updateinfo.AMAZON_SOURCE
    kind: FeedKind = "vulnerability"
    version: int = 1

    def _get(
        self, http: httpx.Client, req: Request, dest: Path, prev: Validator | None
    ) -> Validator | None:
        return download(self.name, http, req, dest, prev=prev, policy=self.policy, sleep=self.sleep)

    def fetch(self, prev: Fingerprint | None, http: httpx.Client) -> Fetched | Unchanged:
        """Mirror lists first (conditional); then, if any moved, every repomd and updateinfo."""
        workdir = feed_workdir("amazon", self.policy.tmp_root)
        try:
            lists: list[tuple[str, str, Path, Validator | None]] = []
            changed = prev is None
            for release, url in self.mirror_lists:
                before = prev.for_url(url) if prev is not None else None
                dest = workdir / f"{release}.mirror.list"
                req = Request(url, dest.name, label=release, verify=verify_mirror_list)
                got = self._get(http, req, dest, before)
                if got is not None and (before is None or got.sha256 != before.sha256):
                    changed = True
                lists.append((release, url, dest, got))
            if not changed:
                shutil.rmtree(workdir, ignore_errors=True)
                return UNCHANGED
            parts: list[Validator] = []
            files: list[FetchedFile] = []
            for release, url, dest, got in lists:
                if got is None:  # 304 while another release moved: read it again
                    req = Request(url, dest.name, verify=verify_mirror_list, conditional=False)
                    got = self._get(http, req, dest, None)
                assert got is not None
                parts.append(got)
                files.append(self._repository(http, release, mirror_base(dest), workdir, parts))
            return Fetched(self.name, tuple(files), Fingerprint(tuple(parts)), workdir)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise

    def _repository(
        self, http: httpx.Client, release: str, base: str, workdir: Path, parts: list[Validator]
    ) -> FetchedFile:
        repomd_url = urljoin(base, "repodata/repomd.xml")
        repomd = workdir / f"{release}.repomd.xml"
        req = Request(repomd_url, repomd.name, verify=verify_repomd, conditional=False)
        got = self._get(http, req, repomd, None)
        assert got is not None
        parts.append(got)
        href, sha = updateinfo_location(repomd)
        url = urljoin(base, href)
        dest = workdir / f"{release}.updateinfo.xml{'.gz' if href.endswith('.gz') else ''}"
        verify: Verify | None = verify_gzip if href.endswith(".gz") else None
        got = self._get(http, Request(url, dest.name, verify=verify, conditional=False), dest, None)
        assert got is not None
        if sha is not None and got.sha256 != sha:
            dest.unlink(missing_ok=True)
            raise IncompleteDownload(
                self.name, f"sha256 {got.sha256} differs from repomd's {sha}", url=url, status=200
            )
        parts.append(got)
        return FetchedFile(dest, url, release)

    def parse(self, fetched: Fetched) -> Iterator[FeedItem]:
        """Every advisory of every fetched updateinfo."""
        for ff in fetched.files:
            yield from updateinfo.parse_file(ff.path, self.policy.max_bytes, self.name)


@dataclass
class BottlerocketFeed(SingleFileFeed):
    """Bottlerocket's advisories (feed `bottlerocket`): one gzipped updateinfo.xml."""

    url: str = BOTTLEROCKET_URL
    name: str = updateinfo.BOTTLEROCKET_SOURCE
    kind: FeedKind = "vulnerability"
    filename: ClassVar[str] = "updateinfo.xml.gz"
    verify: ClassVar[Verify] = staticmethod(verify_gzip)

    def parse_file(self, path: Path) -> Iterator[FeedItem]:
        """The records of one file."""
        yield from updateinfo.parse_file(path, self.policy.max_bytes, self.name)
