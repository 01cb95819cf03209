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
from dataclasses import dataclass

import httpx
import orjson

from dockwatch.feeds import default_feeds
from dockwatch.feeds.feed import UNCHANGED, Feed, FeedError, Fingerprint, ParseProblem, Validator
from dockwatch.model.advisory import Advisory, EpssScore, KevEntry, NvdCvss
from dockwatch.storage.vuln_repo import EncodedAdvisory

from .osv_feed_records import read_osv_feed, reads_archives
from .service import ImportResult, VulnDb

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
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
    processes (default: one per core; `osv_feed_records`)."""
    say = progress or (lambda _m: None)
    outcomes: list[SyncOutcome] = []
    for feed in feeds:
        if renew is not None:
            renew()
        with vdb.store.read() as uow:
            row = uow.vulns.source(feed.name)
        prev = fingerprint_from_json(row.fingerprint if row else None)
        if row and row.feed_version != feed.version:
            prev = None  # a new parser version re-reads the whole feed
        say(f"{feed.name}: fetching")
        try:
            fetched = feed.fetch(prev, http)
        except (FeedError, httpx.HTTPError, OSError) as exc:
            vdb.record_failure(feed.name, f"{type(exc).__name__}: {exc}")
            outcomes.append(SyncOutcome(feed.name, "failed", error=str(exc)))
            logger.warning("feed %s failed: %s", feed.name, exc)
            continue
        if fetched is UNCHANGED:
            vdb.heartbeat(feed.name)
            outcomes.append(SyncOutcome(feed.name, "unchanged"))
            continue
        try:
            with fetched:
                items: list[object]
                if reads_archives(feed):  # an ecosystem's archive: every core
                    paths = [ff.path for ff in fetched.files]
                    items = list(read_osv_feed(paths, feed.name, feed.limits, workers))
                else:
                    items = list(feed.parse(fetched))
                stored_fp = fingerprint_to_json(fetched.fingerprint)
                complete = fetched.complete
        # RuntimeError: a parsing process died (`vulndb/workers.py`)
        except (FeedError, OSError, ValueError, RuntimeError) as exc:
            vdb.record_failure(feed.name, f"{type(exc).__name__}: {exc}")
            outcomes.append(SyncOutcome(feed.name, "failed", error=str(exc)))
            continue
        problems = sum(isinstance(i, ParseProblem) for i in items)
        say(f"{feed.name}: applying {len(items) - problems} records")
        if reads_archives(feed):
            result = vdb.apply_rows(
                feed.name,
                [i for i in items if isinstance(i, EncodedAdvisory)],
                complete=complete,
                feed_version=feed.version,
                source_fingerprint=stored_fp,
            )
        elif feed.kind == "vulnerability":
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
        outcomes.append(
            SyncOutcome(
                feed.name, "updated" if result.changed else "unchanged", result, problems=problems
            )
        )
    return outcomes
