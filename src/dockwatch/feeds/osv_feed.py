"""An OSV ecosystem as a feed: osv.dev's `all.zip` of it, downloaded conditionally and read
by `osv` (records, files and archives)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from dockwatch.feeds.download import DownloadPolicy, Request, Sleep, fetch_all, verify_zip
from dockwatch.feeds.feed import (
    FeedFormatError,
    FeedItem,
    FeedKind,
    Fetched,
    Fingerprint,
    ParseProblem,
    Unchanged,
)
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
        """Conditional download of all.zip, a whole zip archive (its members are checked as
        they are read: `fetched_records`)."""
        req = Request(url=self.source_url, filename="all.zip", verify=verify_zip)
        return fetch_all(self.name, http, [req], prev, self.policy, self.sleep)

    def parse(self, fetched: Fetched) -> Iterator[FeedItem]:
        """Every record of every fetched file or folder."""
        yield from fetched_records(fetched, self.name, self.limits)


def fetched_records(fetched: Fetched, source: str, limits: Limits) -> Iterator[FeedItem]:
    """Every record of a download's files, read by `iter_path` as `source`; raises
    `FeedFormatError` at a file that cannot be read whole (`ParseProblem.damaged`: a member
    that does not inflate to its CRC, an archive over its cap), which the download's
    verification no longer inflates to find."""
    seen: Seen = {}
    for ff in fetched.files:
        for item in iter_path(ff.path, source, limits, seen):
            yield undamaged(item) if isinstance(item, ParseProblem) else item


def undamaged(problem: ParseProblem) -> ParseProblem:
    """`problem`, unless it leaves a download unreadable whole (`ParseProblem.damaged`): then
    `FeedFormatError`, which fails the feed rather than have it applied without what could
    not be read (which would withdraw it)."""
    if problem.damaged:
        reason = f"damaged download: {problem.reason}"
        raise FeedFormatError(problem.feed, reason, path=problem.where)
    return problem
