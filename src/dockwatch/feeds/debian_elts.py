"""Freexian's Extended LTS tracker (https://deb.freexian.com/extended-lts/tracker/data/json).

Debian releases past Debian LTS (jessie, stretch, buster) get security updates from Freexian's
Extended LTS (ELAs). Its tracker is Freexian's fork of the Debian security tracker
(https://salsa.debian.org/freexian-team/extended-lts/security-tracker) and serves the same
`/tracker/data/json` document; feeds/debian.py reads it, keeping only the releases ELTS speaks
for (`debian.EXTENDED_LTS`), in the same `Debian:<n>` ecosystems, under the feed `debian-elts`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from dockwatch.feeds import debian
from dockwatch.feeds.download import SingleFileFeed, Verify, verify_json
from dockwatch.feeds.feed import FeedItem, FeedKind
from dockwatch.model.advisory import Advisory

ELTS_TRACKER_URL = "https://deb.freexian.com/extended-lts/tracker/data/json"
SOURCE = "debian-elts"
ELTS = debian.Tracker(SOURCE, "https://deb.freexian.com/extended-lts/tracker", extended=True)


def looks_like_elts(path: Path) -> bool:
    """An imported tracker file is ELTS' when its path says so (`elts`, `extended-lts`): the two
    trackers publish the same shape."""
    text = str(path).lower()
    return "elts" in text or "extended-lts" in text


def parse_file(path: Path, max_bytes: int = 2 << 30) -> Iterator[FeedItem]:
    """The ELTS releases' advisories of one tracker JSON file; issues about other releases only
    (the ELTS tracker also lists those) are not ELTS advisories and are left out."""
    for item in debian.parse_file(str(path), max_bytes, ELTS):
        if not isinstance(item, Advisory) or item.affected:
            yield item


@dataclass
class DebianEltsFeed(SingleFileFeed):
    """Freexian's Extended LTS tracker."""

    url: str = ELTS_TRACKER_URL
    name: str = SOURCE
    kind: FeedKind = "vulnerability"
    filename: ClassVar[str] = "debian-elts.json"
    verify: ClassVar[Verify] = staticmethod(verify_json)

    def parse_file(self, path: Path) -> Iterator[FeedItem]:
        """The records of one file."""
        yield from parse_file(path, self.policy.max_bytes)
