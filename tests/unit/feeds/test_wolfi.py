"""Wolfi's security database (Alpine's secdb shape without a branch)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockwatch.feeds import UNCHANGED, Feed, Fetched, default_feeds
from dockwatch.feeds.detect import Format, sniff
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.feeds.wolfi import ChainguardFeed, WolfiFeed, ecosystem_of
from dockwatch.model.advisory import Advisory, AffectedStatus
from tests.unit.feeds.upstream import Resource, Upstream, serve

DATA = Path(__file__).parents[2] / "data" / "feeds" / "wolfi" / "security.json"


def _parse(path: Path) -> dict[str, Advisory]:
    items = list(WolfiFeed().parse(Fetched.local("wolfi", path)))
    return {a.id: a for a in items if isinstance(a, Advisory)}


def test_real_busybox_advisories() -> None:
    advs = _parse(DATA)
    assert set(advs) == {
        "CVE-2022-28391", "CVE-2022-30065",
        "CVE-2023-42363", "CVE-2023-42364", "CVE-2023-42365", "CVE-2023-42366",
    }  # fmt: skip
    (fixed,) = advs["CVE-2022-28391"].affected
    assert (fixed.ecosystem, fixed.name, fixed.fixed_versions) == (
        "Wolfi",
        "busybox",
        ("1.35.0-r3",),
    )
    assert fixed.status is AffectedStatus.AFFECTED
    (never,) = advs["CVE-2023-42364"].affected  # a false-positive determination: `0`
    assert never.status is AffectedStatus.NOT_AFFECTED
    assert advs["CVE-2022-28391"].source == "wolfi"


def test_detected_as_wolfi_not_alpine() -> None:
    assert sniff(DATA) is Format.WOLFI
    assert ecosystem_of({"urlprefix": "https://packages.cgr.dev"}) == "Chainguard"
    assert ecosystem_of({"urlprefix": "https://packages.wolfi.dev"}) == "Wolfi"


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


def test_fetch_then_304(upstream: Upstream, tmp_path: Path) -> None:
    upstream.resources["/os/security.json"] = Resource(DATA.read_bytes(), etag='"w1"')
    feed = WolfiFeed(url=upstream.url("/os/security.json"), policy=DownloadPolicy(timeout=10))
    assert isinstance(feed, Feed)
    with httpx.Client() as http:
        fetched = feed.fetch(None, http)
        assert isinstance(fetched, Fetched)
        with fetched:
            assert len([x for x in feed.parse(fetched) if isinstance(x, Advisory)]) == 6
        assert feed.fetch(fetched.fingerprint, http) is UNCHANGED
    assert upstream.log[-1][1].get("If-None-Match") == '"w1"'


def test_registered_with_the_real_upstreams() -> None:
    feeds = {f.name: f for f in default_feeds()}
    assert isinstance(feeds["wolfi"], WolfiFeed)
    assert feeds["wolfi"].url == "https://packages.wolfi.dev/os/security.json"
    assert isinstance(feeds["chainguard"], ChainguardFeed)
    assert feeds["chainguard"].url == "https://packages.cgr.dev/chainguard/security.json"
