"""The Feed protocol: fetch with a fingerprint, then parse what was fetched.

As in claircore's `driver.Updater`, fetching and parsing are split: `fetch` talks to the network
and leaves verified files in a private temporary folder (or returns `UNCHANGED`), `parse` reads
files only, so parsers are tested offline and `db import` feeds local files to the same parsers.
A malformed record is never fatal: `parse` yields a `ParseProblem` in its place and goes on.
"""

from __future__ import annotations

import enum
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import httpx

from dockwatch.errors import DockwatchError
from dockwatch.model.advisory import Advisory, EnrichmentRecord
from dockwatch.value_class import frozen

FeedKind = Literal["vulnerability", "enrichment"]


class FeedError(DockwatchError):
    """Base of every feed failure; the runner records it and keeps the database as it was."""

    def __init__(self, feed: str, message: str) -> None:
        super().__init__(f"{feed}: {message}")
        self.feed = feed
        self.message = message


class FetchError(FeedError):
    """The download failed (network, HTTP status, rate limit); retrying later may succeed."""

    def __init__(self, feed: str, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(feed, message)
        self.url = url
        self.status = status


class RateLimited(FetchError):
    """The server kept answering 429/503, or asked to wait longer than we allow."""

    def __init__(self, feed: str, *, url: str, retry_after: float | None) -> None:
        super().__init__(feed, f"rate limited (Retry-After {retry_after})", url=url, status=429)
        self.retry_after = retry_after


class IncompleteDownload(FetchError):
    """The body was cut short, failed its Content-Length, CRC or parse check; nothing was kept."""


class TooLarge(FetchError):
    """The body exceeded the size cap configured for the feed."""


class FeedFormatError(FeedError):
    """A whole input file is unusable (not JSON, wrong top-level shape); no record was read."""

    def __init__(self, feed: str, message: str, *, path: str) -> None:
        super().__init__(feed, f"{path}: {message}")
        self.path = path


class Unchanged(enum.Enum):
    """The type of the `UNCHANGED` sentinel."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED
"""Returned by `fetch` when upstream has nothing new (304, or the same content hash)."""


@frozen
class Validator:
    """What we know about one fetched URL, to ask "has it changed?" next time."""

    url: str
    """The URL (without secrets such as API keys)."""
    etag: str | None = None
    """The `ETag` response header."""
    last_modified: str | None = None
    """The `Last-Modified` response header, verbatim."""
    sha256: str | None = None
    """SHA-256 of the body as stored (after transfer decoding)."""
    size: int | None = None
    """Body size in bytes."""


@frozen
class Fingerprint:
    """The state of a feed's upstream at the last successful fetch: one validator per URL."""

    parts: tuple[Validator, ...] = ()
    """One per URL fetched, in fetch order."""

    def for_url(self, url: str) -> Validator | None:
        """The validator recorded for `url`, if any."""
        for p in self.parts:
            if p.url == url:
                return p
        return None


@frozen
class FetchedFile:
    """One verified file in a Fetched folder."""

    path: Path
    """Where it is."""
    url: str | None = None
    """Where it came from (None for local imports)."""
    label: str = ""
    """Feed-specific meaning (Alpine: `v3.19/main`; NVD: the page's startIndex)."""


@dataclass
class Fetched:
    """Verified files from one fetch (or local import), owned until `close()`."""

    feed: str
    """The feed name."""
    files: tuple[FetchedFile, ...]
    """The files, in fetch order."""
    fingerprint: Fingerprint = field(default_factory=Fingerprint)
    """To be stored and passed to the next `fetch`."""
    workdir: Path | None = None
    """A temporary folder that `close()` removes (None for local files, which are never deleted)."""
    complete: bool = True
    """Whether the files hold the whole source (records missing from them are withdrawn), or
    only what changed since the fingerprint passed to `fetch` (Red Hat's `changes.csv`)."""

    def close(self) -> None:
        """Remove the temporary folder, if this fetch made one."""
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> Fetched:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def local(cls, feed: str, *paths: Path, label: str = "") -> Fetched:
        """Wrap local files or folders (for `db import`); they are never deleted."""
        return cls(feed=feed, files=tuple(FetchedFile(path=p, label=label) for p in paths))


@frozen
class ParseProblem:
    """A record (or file) that was skipped, with why; counted and logged, never fatal but in a
    feed's download (`damaged`)."""

    feed: str
    """The feed name."""
    where: str
    """The file (and member / record id) it came from."""
    reason: str
    """What was wrong, short."""
    record_id: str | None = None
    """The record's id, if it could be read."""
    damaged: bool = False
    """The file itself could not be read whole (a damaged member of an archive, an archive
    that cannot be opened or expands beyond its cap): a feed fetched from upstream with one is
    failed rather than applied without what could not be read, which would withdraw it."""


FeedItem = Advisory | EnrichmentRecord | ParseProblem
"""What `parse` yields."""


@runtime_checkable
class Feed(Protocol):
    """One advisory or enrichment source."""

    @property
    def name(self) -> str:
        """Stable name stored with every record (`osv:PyPI`, `debian`, `nvd`)."""
        ...

    @property
    def kind(self) -> FeedKind:
        """`vulnerability` feeds create matches; `enrichment` feeds only add facts keyed by CVE."""
        ...

    @property
    def version(self) -> int:
        """Bumped when the parser's output changes for the same input, to force a re-import."""
        ...

    def fetch(self, prev: Fingerprint | None, http: httpx.Client) -> Fetched | Unchanged:
        """Download and verify upstream, or UNCHANGED; never leaves partial files behind."""
        ...

    def parse(self, fetched: Fetched) -> Iterator[FeedItem]:
        """Every record in `fetched`, with a ParseProblem in place of each bad one."""
        ...
