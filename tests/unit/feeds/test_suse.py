"""SUSE's and openSUSE's OSV records: products folded per release, binary names, ratings."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockwatch.feeds import UNCHANGED, Feed, Fetched, default_feeds
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.feeds.suse import OpenSuseFeed, SuseFeed, normalize, release_ecosystems
from dockwatch.model.advisory import (
    Advisory,
    AdvisoryID,
    Affected,
    Event,
    EventKind,
    Range,
    RangeType,
    SeverityType,
)
from tests.unit.feeds.upstream import Resource, Upstream, serve

DATA = Path(__file__).parents[2] / "data" / "feeds" / "suse" / "osv"
SLE12 = "SUSE:Linux Enterprise 12"


def _parse(path: Path) -> dict[str, Advisory]:
    items = list(SuseFeed().parse(Fetched.local("osv:SUSE", path)))
    return {a.id: a for a in items if isinstance(a, Advisory)}


def _view(adv: Advisory) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(a.ecosystem, a.name, a.fixed_versions) for a in adv.affected]


def test_products_fold_into_their_service_pack() -> None:
    advs = _parse(DATA)
    assert set(advs) == {"SUSE-SU-2019:1608-1", "openSUSE-SU-2018:1633-1"}
    sle = advs["SUSE-SU-2019:1608-1"]
    fix = ("0.9.8j-106.12.1",)
    # Desktop and Server for SAP of one service pack are one release; the Legacy Software
    # Module of SLE 12 has no service pack and applies to each one in the table (SP5 included);
    # service packs the table does not list (SP1, SP2) are kept under their own name.
    assert _view(sle) == [
        (f"{SLE12} SP1", "compat-openssl098", fix),
        (f"{SLE12} SP1", "libopenssl0_9_8", fix),
        (f"{SLE12} SP2", "compat-openssl098", fix),
        (f"{SLE12} SP2", "libopenssl0_9_8", fix),
        (f"{SLE12} SP3", "compat-openssl098", fix),
        (f"{SLE12} SP3", "libopenssl0_9_8", fix),
        (f"{SLE12} SP4", "compat-openssl098", fix),
        (f"{SLE12} SP4", "libopenssl0_9_8", fix),
        (f"{SLE12} SP5", "compat-openssl098", fix),
        (f"{SLE12} SP5", "libopenssl0_9_8", fix),
    ]
    # the CVE it fixes (`upstream`) files the finding; SUSE's rating is a vendor severity
    assert "CVE-2019-1559" in sle.related and sle.cve_ids == ("CVE-2019-1559",)
    vendor = [s for s in sle.severities if s.type is SeverityType.VENDOR]
    assert [(s.value, s.rating) for s in vendor] == [("moderate", "MEDIUM")]
    leap = advs["openSUSE-SU-2018:1633-1"]
    assert _view(leap) == [
        ("openSUSE:Leap 15.0", "glibc", ("2.26-lp150.11.3.2",)),
        ("openSUSE:Leap 15.0", "glibc-locale", ("2.26-lp150.11.3.2",)),
        ("openSUSE:Leap 15.0", "nscd", ("2.26-lp150.11.3.2",)),
    ]


@pytest.mark.parametrize(
    ("published", "folded"),
    [
        ("SUSE:Linux Enterprise Module for Basesystem 15 SP5", "SUSE:Linux Enterprise 15 SP5"),
        ("SUSE:Linux Enterprise Server 15 SP5", "SUSE:Linux Enterprise 15 SP5"),
        ("SUSE:Linux Enterprise Server 15 SP4-LTSS", "SUSE:Linux Enterprise 15 SP4"),
        ("SUSE:Linux Enterprise High Performance Computing 15 SP5-ESPOS", "SUSE:Linux Enterprise 15 SP5"),
        ("SUSE:Linux Enterprise Server LTSS 12 SP5", "SUSE:Linux Enterprise 12 SP5"),
        ("SUSE:Linux Enterprise Server for SAP Applications 15", "SUSE:Linux Enterprise 15"),
        ("SUSE:Linux Enterprise Server 16.0", "SUSE:Linux Enterprise 16.0"),
        ("openSUSE:Leap 15.6", "openSUSE:Leap 15.6"),
        ("openSUSE:Leap 15.5 NonFree", "openSUSE:Leap 15.5"),
    ],
)  # fmt: skip
def test_release_of_each_product_name(published: str, folded: str) -> None:
    assert release_ecosystems(published) == ((folded,), False)


def test_names_no_image_can_carry_are_left_as_published() -> None:
    for other in (
        "SUSE:Linux Enterprise Micro 5.5",
        "SUSE:Linux Micro 6.0",
        "SUSE:Linux Enterprise Server 5 SP7",  # not SLE 15: no suffix matching
        "openSUSE:Leap Micro 5.5",
        "openSUSE:Tumbleweed",
        "SUSE:Manager Server 4.3",
    ):
        assert release_ecosystems(other) is None


def test_sle12_modules_apply_to_every_service_pack() -> None:
    target = release_ecosystems("SUSE:Linux Enterprise Module for Web and Scripting 12")
    assert target is not None
    ecosystems, shared = target
    assert shared and ecosystems == (f"{SLE12} SP3", f"{SLE12} SP4", f"{SLE12} SP5")


def _entry(ecosystem: str, fixed: str | None, name: str = "curl") -> Affected:
    events = [Event(EventKind.INTRODUCED, "0")]
    if fixed:
        events.append(Event(EventKind.FIXED, fixed))
    return Affected(ecosystem, name, (Range(RangeType.ECOSYSTEM, tuple(events)),))


def _fold(*entries: Affected) -> list[tuple[str, str, tuple[str, ...]]]:
    out = []
    for order in (1, -1):
        adv = Advisory(AdvisoryID("SUSE-SU-2099:1-1"), "osv:SUSE", affected=entries[::order])
        out.append(_view(normalize(adv)))
    assert out[0] == out[1], "the result must not depend on the order of the entries"
    return out[0]


def test_highest_fix_of_one_service_pack_wins() -> None:
    # rpm order, not string order: 8.0.1-150400.5.9.1 < 8.0.1-150400.5.50.1
    got = _fold(
        _entry("SUSE:Linux Enterprise Module for Basesystem 15 SP5", "8.0.1-150400.5.9.1"),
        _entry("SUSE:Linux Enterprise Server 15 SP5-LTSS", "8.0.1-150400.5.50.1"),
    )
    assert got == [("SUSE:Linux Enterprise 15 SP5", "curl", ("8.0.1-150400.5.50.1",))]


def test_a_service_pack_entry_wins_over_a_module_for_all() -> None:
    got = _fold(
        _entry("SUSE:Linux Enterprise Module for Web and Scripting 12", "2.0-9.1", "php7"),
        _entry("SUSE:Linux Enterprise Server 12 SP5", "1.0-1.1", "php7"),
    )
    assert got == [
        (f"{SLE12} SP3", "php7", ("2.0-9.1",)),
        (f"{SLE12} SP4", "php7", ("2.0-9.1",)),
        (f"{SLE12} SP5", "php7", ("1.0-1.1",)),
    ]


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


def test_fetch_all_zip_then_304(upstream: Upstream, tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(DATA.rglob("*.json")):
            zf.write(p, p.name)
    upstream.resources["/openSUSE/all.zip"] = Resource(archive.read_bytes(), etag='"s1"')
    root = tmp_path / "tmp"
    root.mkdir()
    feed = OpenSuseFeed(
        url=upstream.url("/openSUSE/all.zip"), policy=DownloadPolicy(tmp_root=root, timeout=10)
    )
    assert isinstance(feed, Feed)
    with httpx.Client() as http:
        fetched = feed.fetch(None, http)
        assert isinstance(fetched, Fetched)
        with fetched:
            advs = {str(x.id): x for x in feed.parse(fetched) if isinstance(x, Advisory)}
        assert set(advs) == {"SUSE-SU-2019:1608-1", "openSUSE-SU-2018:1633-1"}
        assert advs["openSUSE-SU-2018:1633-1"].source == "osv:openSUSE"
        assert feed.fetch(fetched.fingerprint, http) is UNCHANGED
    assert upstream.log[-1][1].get("If-None-Match") == '"s1"'


def test_registered_with_the_real_upstreams() -> None:
    feeds = {f.name: f for f in default_feeds()}
    suse, opensuse = feeds["osv:SUSE"], feeds["osv:openSUSE"]
    assert isinstance(suse, SuseFeed) and isinstance(opensuse, OpenSuseFeed)
    assert suse.source_url == "https://osv-vulnerabilities.storage.googleapis.com/SUSE/all.zip"
    assert (
        opensuse.source_url == "https://osv-vulnerabilities.storage.googleapis.com/openSUSE/all.zip"
    )
