"""Conditional, capped, verified downloads shared by every feed.

A download goes to a temporary file inside a private temporary folder, is checked (Content-Length,
then a format check such as a zip CRC pass or a JSON parse) and only then kept; any failure removes
the folder, so a cut-off body never reaches a parser. 429 (and 503) answers are retried after
`Retry-After`, within bounds.
"""

from __future__ import annotations

import abc
import gzip
import hashlib
import logging
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import ClassVar

import httpx
import orjson

from dockwatch.feeds import zip_directory
from dockwatch.feeds.feed import (
    UNCHANGED,
    FeedItem,
    FeedKind,
    Fetched,
    FetchedFile,
    FetchError,
    Fingerprint,
    IncompleteDownload,
    RateLimited,
    TooLarge,
    Unchanged,
    Validator,
)
from dockwatch.process_identity import folder_owner, remove_abandoned_folders
from dockwatch.value_class import frozen

logger = logging.getLogger(__name__)

Sleep = Callable[[float], None]
Verify = Callable[[Path], None]
"""Raises ValueError (or OSError, EOFError, BadZipFile, zlib.error) when a file is incomplete."""

_CHUNK = 1 << 16


@frozen
class DownloadPolicy:
    """Bounds on one feed's downloads."""

    max_bytes: int = 2 << 30
    """Largest body accepted (after transfer decoding); more raises TooLarge."""
    max_attempts: int = 4
    """Attempts per URL when the server answers 429/503."""
    max_retry_after: float = 300.0
    """A longer `Retry-After` is not waited for: RateLimited is raised instead."""
    default_retry_after: float = 5.0
    """Wait used when a 429/503 has no usable `Retry-After`."""
    timeout: float = 120.0
    """Per-request network timeout, seconds."""
    tmp_root: Path | None = None
    """Where temporary folders go (None: the system default)."""


@frozen
class Request:
    """One URL a feed fetches."""

    url: str
    """The URL, without query parameters that carry secrets."""
    filename: str
    """Name of the file inside the fetch folder."""
    label: str = ""
    """Passed through to FetchedFile.label."""
    params: Mapping[str, str | int] | None = None
    """Query parameters."""
    headers: Mapping[str, str] | None = None
    """Extra headers (an API key, say)."""
    verify: Verify | None = None
    """Completeness check run on the finished file."""
    conditional: bool = True
    """Whether to send If-None-Match / If-Modified-Since."""


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def verify_json(path: Path) -> None:
    """The file parses as JSON (a cut-off JSON document never does)."""
    orjson.loads(path.read_bytes())


def verify_gzip(path: Path) -> None:
    """The gzip stream is complete: its CRC and length trailer check out."""
    with gzip.open(path, "rb") as f:
        while f.read(_CHUNK):
            pass


def verify_zip(path: Path) -> None:
    """The download is a whole zip archive: its central directory is within the cap and reads
    (a download cut short has none). Its members are checked as they are parsed, where one
    that cannot be read fails the feed (`ParseProblem.damaged`), rather than inflated twice."""
    zf, _end = zip_directory.open_zip(path)  # its directory's size checked first
    zf.close()


def download(
    feed: str,
    http: httpx.Client,
    req: Request,
    dest: Path,
    *,
    prev: Validator | None,
    policy: DownloadPolicy,
    sleep: Sleep = time.sleep,
) -> Validator | None:
    """Fetch `req` into `dest`; None means 304 Not Modified. Raises FetchError subclasses."""
    headers = dict(req.headers or {})
    if prev is not None and req.conditional:
        if prev.etag:
            headers["If-None-Match"] = prev.etag
        if prev.last_modified:
            headers["If-Modified-Since"] = prev.last_modified
    for attempt in range(1, policy.max_attempts + 1):
        try:
            result = _attempt(feed, http, req, dest, headers, policy)
        except httpx.HTTPError as e:
            dest.unlink(missing_ok=True)
            raise IncompleteDownload(feed, f"transfer failed: {e}", url=req.url) from e
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        if not isinstance(result, _Retry):
            return result
        wait = result.seconds if result.seconds is not None else policy.default_retry_after
        if wait > policy.max_retry_after or attempt == policy.max_attempts:
            raise RateLimited(feed, url=req.url, retry_after=result.seconds)
        logger.warning(
            "feed %s: %s answered %d, retrying in %.1fs (attempt %d/%d)",
            feed,
            req.url,
            result.status,
            wait,
            attempt,
            policy.max_attempts,
            extra={"feed": feed},
        )
        sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


@frozen
class _Retry:
    status: int
    seconds: float | None


def _attempt(
    feed: str,
    http: httpx.Client,
    req: Request,
    dest: Path,
    headers: dict[str, str],
    policy: DownloadPolicy,
) -> Validator | None | _Retry:
    with http.stream(
        "GET",
        req.url,
        params=req.params,
        headers=headers,
        timeout=policy.timeout,
        follow_redirects=True,
    ) as resp:
        if resp.status_code == 304:
            return None
        if resp.status_code in (429, 503):
            return _Retry(resp.status_code, retry_after_seconds(resp.headers.get("Retry-After")))
        if resp.status_code != 200:
            raise FetchError(feed, f"HTTP {resp.status_code}", url=req.url, status=resp.status_code)
        declared = resp.headers.get("Content-Length")
        sha = hashlib.sha256()
        size = 0
        with dest.open("wb") as out:
            for chunk in resp.iter_bytes(_CHUNK):
                size += len(chunk)
                if size > policy.max_bytes:
                    raise TooLarge(feed, f"body exceeds {policy.max_bytes} bytes", url=req.url)
                sha.update(chunk)
                out.write(chunk)
        raw = resp.num_bytes_downloaded
        if declared is not None and declared.isdigit() and int(declared) != raw:
            raise IncompleteDownload(
                feed, f"got {raw} of {declared} bytes", url=req.url, status=200
            )
    if req.verify is not None:
        try:
            req.verify(dest)
        # RuntimeError: `zipfile` on an encrypted member, NotImplementedError (one) on an
        # unknown compression method
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError) as e:
            raise IncompleteDownload(
                feed, f"verification failed: {e}", url=req.url, status=200
            ) from e
    return Validator(
        url=req.url,
        etag=resp.headers.get("ETag"),
        last_modified=resp.headers.get("Last-Modified"),
        sha256=sha.hexdigest(),
        size=size,
    )


def fetch_all(
    feed: str,
    http: httpx.Client,
    requests: Sequence[Request],
    prev: Fingerprint | None,
    policy: DownloadPolicy,
    sleep: Sleep = time.sleep,
) -> Fetched | Unchanged:
    """Fetch every request into one new temporary folder, or UNCHANGED.

    UNCHANGED when every URL answers 304, or when every body hashes as before. If only some
    answer 304, those are fetched again unconditionally: a parse always sees the whole feed.
    """
    workdir = feed_workdir(feed, policy.tmp_root)
    try:
        results: list[Validator | None] = []
        for req in requests:
            before = prev.for_url(req.url) if prev is not None else None
            results.append(
                download(
                    feed, http, req, workdir / req.filename, prev=before, policy=policy, sleep=sleep
                )
            )
        if requests and all(r is None for r in results):
            shutil.rmtree(workdir, ignore_errors=True)
            return UNCHANGED
        for i, req in enumerate(requests):
            if results[i] is None:
                unconditional = Request(
                    url=req.url,
                    filename=req.filename,
                    label=req.label,
                    params=req.params,
                    headers=req.headers,
                    verify=req.verify,
                    conditional=False,
                )
                results[i] = download(
                    feed, http, unconditional, workdir / req.filename, prev=None, policy=policy,
                    sleep=sleep,
                )  # fmt: skip
        parts = tuple(r for r in results if r is not None)
        if prev is not None and _same_content(prev, parts):
            shutil.rmtree(workdir, ignore_errors=True)
            return UNCHANGED
        files = tuple(
            FetchedFile(path=workdir / req.filename, url=req.url, label=req.label)
            for req in requests
        )
        return Fetched(feed=feed, files=files, fingerprint=Fingerprint(parts), workdir=workdir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def paged_result(
    feed: str,
    files: Sequence[FetchedFile],
    parts: Sequence[Validator],
    prev: Fingerprint | None,
    workdir: Path,
) -> Fetched | Unchanged:
    """The end of a download paged through an API that answers no conditional requests (NVD,
    Bodhi): UNCHANGED, with `workdir` removed, when every page's content hashes as before."""
    if prev is not None and _same_content(prev, tuple(parts)):
        shutil.rmtree(workdir, ignore_errors=True)
        return UNCHANGED
    return Fetched(feed, tuple(files), Fingerprint(tuple(parts)), workdir)


def _same_content(prev: Fingerprint, parts: tuple[Validator, ...]) -> bool:
    if len(prev.parts) != len(parts):
        return False
    return all(
        a.url == b.url and a.sha256 is not None and a.sha256 == b.sha256
        for a, b in zip(prev.parts, parts, strict=True)
    )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


_WORKDIR_PREFIX = "dockwatch-feed-"


def feed_workdir(feed: str, tmp_root: Path | None) -> Path:
    """A new temporary folder for one fetch of `feed` (in `tmp_root`, else the system's),
    named after this process: `dockwatch-feed-<host>.<pid namespace>.<pid>-<feed>-<random>`
    (`process_identity.folder_owner`). The folders of fetches whose process has ended are
    removed first: a sync killed outright (SIGKILL, the OOM killer) left its downloads behind,
    a whole OSV archive or every NVD page, once per crash."""
    root = Path(tmp_root) if tmp_root is not None else Path(tempfile.gettempdir())
    remove_abandoned_folders(root, _WORKDIR_PREFIX)
    prefix = f"{_WORKDIR_PREFIX}{folder_owner()}-{_safe(feed)}-"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=root))


@dataclass
class SingleFileFeed(abc.ABC):
    """A feed published as one file at one URL (Debian tracker, CISA KEV, EPSS): a conditional
    download verified by `verify`, then `parse_file` on the file. Subclasses set the URL, name,
    kind, file name, verifier and parser."""

    url: str = ""
    """The file's URL."""
    policy: DownloadPolicy = field(default_factory=lambda: DownloadPolicy())
    """Download bounds."""
    sleep: Sleep = time.sleep
    """Injected for tests of Retry-After."""
    name: str = ""
    kind: FeedKind = "vulnerability"
    version: int = 1

    filename: ClassVar[str] = "feed"
    verify: ClassVar[Verify] = staticmethod(verify_json)

    def fetch(self, prev: Fingerprint | None, http: httpx.Client) -> Fetched | Unchanged:
        """Conditional download (ETag / Last-Modified), verified before it counts."""
        req = Request(url=self.url, filename=self.filename, verify=type(self).verify)
        return fetch_all(self.name, http, [req], prev, self.policy, self.sleep)

    def parse(self, fetched: Fetched) -> Iterator[FeedItem]:
        """Every record of every fetched file."""
        for ff in fetched.files:
            yield from self.parse_file(ff.path)

    @abc.abstractmethod
    def parse_file(self, path: Path) -> Iterator[FeedItem]:
        """The records of one file."""
