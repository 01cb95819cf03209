"""An OSV ecosystem as a feed: osv.dev's `all.zip` of it, downloaded conditionally and read
by `osv` (records, files and archives)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from dockwatch.feeds.download import DownloadPolicy, Request, Sleep, fetch_all, make_verify_zip
from dockwatch.feeds.feed import FeedItem, FeedKind, Fetched, Fingerprint, Unchanged
from dockwatch.feeds.osv import Limits, Seen, iter_path

OSV_BUCKET = "https://osv-vulnerabilities.storage.googleapis.com"


@dataclass
class OsvFeed:
    """One OSV ecosystem from osv.dev's bucket (or any URL serving an OSV `all.zip`)."""

    ecosystem: str
    """The ecosystem folder name in the bucket (`PyPI`, `Go`, `crates.io`, `Debian`)."""
    url: str | None = None
    """Overrides the default `<bucket>/<ecosystem>/all.zip`."""
    policy: DownloadPolicy = field(default_factory=DownloadPolicy)
    """Download bounds."""
    limits: Limits = field(default_factory=Limits)
    """Parse bounds."""
    sleep: Sleep = time.sleep
    """Injected for tests of Retry-After."""
    kind: FeedKind = "vulnerability"
    version: int = 1

    @property
    def name(self) -> str:
        """`osv:<ecosystem>`."""
        return f"osv:{self.ecosystem}"

    @property
    def source_url(self) -> str:
        """The URL fetched."""
        return self.url or f"{OSV_BUCKET}/{self.ecosystem}/all.zip"

    def fetch(self, prev: Fingerprint | None, http: httpx.Client) -> Fetched | Unchanged:
        """Conditional download of all.zip, CRC-checked under the archive cap."""
        req = Request(
            url=self.source_url,
            filename="all.zip",
            verify=make_verify_zip(self.limits.max_archive_bytes),
        )
        return fetch_all(self.name, http, [req], prev, self.policy, self.sleep)

    def parse(self, fetched: Fetched) -> Iterator[FeedItem]:
        """Every record of every fetched file or folder."""
        seen: Seen = {}
        for ff in fetched.files:
            yield from iter_path(ff.path, self.name, self.limits, seen)
