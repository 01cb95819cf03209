"""`dockwatch db sync`: fetch every configured feed from upstream and apply what changed.

Per feed: the stored fingerprint makes the request conditional (ETag / Last-Modified), a 304 or
identical content is a heartbeat only, and a fetched feed is verified and parsed completely
before one transaction applies it, so a failed or partial download leaves the database as it
was and is recorded as the source's last error.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence

import httpx
import orjson

from dockwatch.feeds import default_feeds
from dockwatch.feeds.feed import (
    UNCHANGED,
    Feed,
    FeedError,
    Fetched,
    Fingerprint,
    ParseProblem,
    Validator,
)
from dockwatch.model.advisory import Advisory, EpssScore, KevEntry, NvdCvss
from dockwatch.storage.vuln_repo import EncodedAdvisory, KnownRecord
from dockwatch.value_class import frozen

from .collector import collector_paused
from .download_ahead import DownloadAhead
from .osv_feed_records import iter_osv_feed, reads_archives
from .service import ImportResult, RecordsChangedWhileRead, VulnDb

logger = logging.getLogger(__name__)


@frozen
class SyncOutcome:
    """What happened to one feed."""

    feed: str
    status: str
    """`updated`, `unchanged` (nothing new upstream or no change) or `failed`."""
    result: ImportResult | None = None
    error: str | None = None
    problems: int = 0


def fingerprint_to_json(fp: Fingerprint) -> str:
    """Store a fingerprint."""
    return orjson.dumps([dataclasses.asdict(p) for p in fp.parts]).decode()


def fingerprint_from_json(text: str | None) -> Fingerprint | None:
    """Load a stored fingerprint (None when absent or unreadable)."""
    if not text:
        return None
    try:
        return Fingerprint(tuple(Validator(**p) for p in orjson.loads(text)))
    except (TypeError, ValueError):
        return None


def parse_url_overrides(spec: str | None) -> dict[str, str]:
    """`name=url,name=url` (DOCKWATCH_FEED_URLS) -> {name: url}."""
    out: dict[str, str] = {}
    for part in (spec or "").split(","):
        name, sep, url = part.strip().partition("=")
        if sep and name and url:
            out[name.strip()] = url.strip()
    return out


def configured_feeds(overrides: dict[str, str], only: Sequence[str] = ()) -> list[Feed]:
    """The built-in feeds, with upstream URLs replaced where configured."""
    feeds: list[Feed] = []
    for feed in default_feeds():
        if only and feed.name not in only:
            continue
        url = overrides.get(feed.name)
        if url is not None and dataclasses.is_dataclass(feed):
            field_names = {f.name for f in dataclasses.fields(feed)}
            key = (
                "url" if "url" in field_names else "base_url" if "base_url" in field_names else None
            )
            if key is not None:
                feed = dataclasses.replace(feed, **{key: url})
        feeds.append(feed)
    return feeds


@frozen
class _Parsed:
    """An archive feed read whole, its write still to come."""

    feed: Feed
    rows: list[EncodedAdvisory | KnownRecord]
    problems: int
    fingerprint: str
    complete: bool


_READ_ERRORS = (FeedError, OSError, ValueError, RuntimeError)
"""What reading a fetched feed may raise: the feed failed (RuntimeError: a parsing process
died, `vulndb/workers.py`)."""


def sync(
    vdb: VulnDb,
    feeds: Iterable[Feed],
    http: httpx.Client,
    progress: Callable[[str], None] | None = None,
    renew: Callable[[], None] | None = None,
    workers: int | None = None,
) -> list[SyncOutcome]:
    """Fetch and apply each feed; one failing feed never stops the others. `renew` runs before
    each feed (to keep the sync lease of a long run). OSV archives are parsed by `workers`
    processes (default: one per core; `osv_feed_records`), and an archive feed's records are
    written while the parsing processes read the next archive feed: this process writes, alone,
    and with the parsing after it the two cores are busy together (each archive written after
    its parse, the four archives of `bench/feed_sync.py` left a core idle for about 0.7 s of
    writes). What is pending is written before any other feed's outcome, so outcomes and
    database versions keep the feeds' order. The next feed downloads meanwhile, in a thread
    (`DownloadAhead`), from the moment the current feed's parse has started."""
    with collector_paused():  # the feeds' rows are acyclic (`collector.collector_paused`)
        return _sync(vdb, list(feeds), http, progress, renew, workers)


def _sync(
    vdb: VulnDb,
    listed: list[Feed],
    http: httpx.Client,
    progress: Callable[[str], None] | None,
    renew: Callable[[], None] | None,
    workers: int | None,
) -> list[SyncOutcome]:
    say = progress or (lambda _m: None)
    outcomes: list[SyncOutcome] = []
    pending: list[_Parsed] = []  # at most one: written while the next feed is parsed
    ahead: DownloadAhead | None = None  # the next feed's download, when it has started

    def write_pending() -> None:
        outcomes.extend(_write(vdb, parsed, say) for parsed in pending)
        pending.clear()

    def download_next(at: int) -> None:
        nonlocal ahead
        if at + 1 < len(listed):
            feed = listed[at + 1]
            say(f"{feed.name}: fetching")
            ahead = DownloadAhead(feed, _previous(vdb, feed), http)

    try:
        for at, feed in enumerate(listed):
            if renew is not None:
                renew()
            try:
                if ahead is not None:
                    download, ahead = ahead, None
                    fetched = download.result()
                else:
                    prev = _previous(vdb, feed)
                    say(f"{feed.name}: fetching")
                    fetched = feed.fetch(prev, http)
            except (FeedError, httpx.HTTPError, OSError) as exc:
                write_pending()
                vdb.record_failure(feed.name, f"{type(exc).__name__}: {exc}")
                outcomes.append(SyncOutcome(feed.name, "failed", error=str(exc)))
                logger.warning("feed %s failed: %s", feed.name, exc)
                continue
            if fetched is UNCHANGED:
                write_pending()
                vdb.heartbeat(feed.name)
                outcomes.append(SyncOutcome(feed.name, "unchanged"))
                continue
            if not reads_archives(feed):
                download_next(at)  # this feed is read in this process: nothing is forked
                write_pending()
                outcomes.append(_parse_and_write(vdb, feed, fetched, say))
                continue
            writing = False
            try:
                with fetched:
                    paths = [ff.path for ff in fetched.files]
                    with vdb.store.read() as uow:  # records stored from the same bytes: not read
                        known = uow.vulns.known_records(feed.name)
                    records = iter_osv_feed(paths, feed.name, feed.limits, workers, known)
                    try:
                        first = next(records, None)  # the parsing processes started
                        download_next(at)
                        writing = True
                        write_pending()  # the feed before, beside them
                        writing = False
                        items = [] if first is None else [first, *records]
                    finally:
                        records.close()
                    stored_fp = fingerprint_to_json(fetched.fingerprint)
                    complete = fetched.complete
            except _READ_ERRORS as exc:
                if writing:  # the feed before failed to be written: as it would have alone
                    raise
                write_pending()  # when this feed failed before it was
                vdb.record_failure(feed.name, f"{type(exc).__name__}: {exc}")
                outcomes.append(SyncOutcome(feed.name, "failed", error=str(exc)))
                continue
            rows = [i for i in items if isinstance(i, EncodedAdvisory | KnownRecord)]
            pending.append(_Parsed(feed, rows, len(items) - len(rows), stored_fp, complete))
        write_pending()
    finally:
        if ahead is not None:  # the sync stopped on an error
            ahead.abandon()
    return outcomes


def _previous(vdb: VulnDb, feed: Feed) -> Fingerprint | None:
    """The fingerprint of the feed's last fetch, for a conditional request (None when its
    parser changed since: the whole feed is read again)."""
    with vdb.store.read() as uow:
        row = uow.vulns.source(feed.name)
    prev = fingerprint_from_json(row.fingerprint if row else None)
    if row and row.feed_version != feed.version:
        return None
    return prev


def _write(vdb: VulnDb, parsed: _Parsed, say: Callable[[str], None]) -> SyncOutcome:
    """Apply an archive feed read whole."""
    feed = parsed.feed
    say(f"{feed.name}: applying {len(parsed.rows)} records")
    try:
        result = vdb.apply_rows(
            feed.name,
            parsed.rows,
            complete=parsed.complete,
            feed_version=feed.version,
            source_fingerprint=parsed.fingerprint,
        )
    except RecordsChangedWhileRead as exc:  # a `db import` wrote the source meanwhile
        vdb.record_failure(feed.name, str(exc))
        logger.warning("feed %s failed: %s", feed.name, exc)
        return SyncOutcome(feed.name, "failed", error=str(exc))
    status = "updated" if result.changed else "unchanged"
    return SyncOutcome(feed.name, status, result, problems=parsed.problems)


def _parse_and_write(
    vdb: VulnDb, feed: Feed, fetched: Fetched, say: Callable[[str], None]
) -> SyncOutcome:
    """Parse a feed that is not an OSV archive in this process, and apply it."""
    try:
        with fetched:
            items = list(feed.parse(fetched))
            stored_fp = fingerprint_to_json(fetched.fingerprint)
            complete = fetched.complete
    except _READ_ERRORS as exc:
        vdb.record_failure(feed.name, f"{type(exc).__name__}: {exc}")
        return SyncOutcome(feed.name, "failed", error=str(exc))
    problems = sum(isinstance(i, ParseProblem) for i in items)
    say(f"{feed.name}: applying {len(items) - problems} records")
    result: ImportResult
    if feed.kind == "vulnerability":
        advisories = [i for i in items if isinstance(i, Advisory)]
        result = vdb.apply(
            feed.name,
            advisories,
            complete=complete,
            feed_version=feed.version,
            source_fingerprint=stored_fp,
        )
    else:
        records = [i for i in items if isinstance(i, KevEntry | EpssScore | NvdCvss)]
        result = vdb.apply_enrichment(feed.name, records, source_fingerprint=stored_fp)
    status = "updated" if result.changed else "unchanged"
    return SyncOutcome(feed.name, status, result, problems=problems)
