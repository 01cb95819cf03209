"""Ubuntu's OSV records (real ones, cut down): Pro folded into its release, priorities, notices."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockwatch.feeds import UNCHANGED, Feed, Fetched, default_feeds
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.feeds.ubuntu import UbuntuFeed, normalize, release_ecosystem
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

DATA = Path(__file__).parents[2] / "data" / "feeds" / "ubuntu" / "osv"


def _parse(path: Path) -> dict[str, Advisory]:
    items = list(UbuntuFeed().parse(Fetched.local("osv:Ubuntu", path)))
    return {a.id: a for a in items if isinstance(a, Advisory)}


def _view(adv: Advisory) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(a.ecosystem, a.name, a.fixed_versions) for a in adv.affected]


def test_real_records_from_the_repository_folder() -> None:
    advs = _parse(DATA)
    # the notice repeats the CVE record's facts and is not matched
    assert set(advs) == {"UBUNTU-CVE-2025-0395", "CVE-2024-0727"}
    glibc = advs["UBUNTU-CVE-2025-0395"]
    assert _view(glibc) == [
        # 16.04 left standard support: the fix is Ubuntu Pro's, folded into the release
        ("Ubuntu:16.04:LTS", "glibc", ("2.23-0ubuntu11.3+esm8",)),
        ("Ubuntu:20.04:LTS", "glibc", ("2.31-0ubuntu9.17",)),
        ("Ubuntu:22.04:LTS", "glibc", ("2.35-0ubuntu3.9",)),
        ("Ubuntu:24.04:LTS", "glibc", ("2.39-0ubuntu8.4",)),
    ]
    # the finding is filed under the upstream CVE; the notices stay as related ids
    assert glibc.related == ("CVE-2025-0395", "USN-7259-1", "USN-7259-2", "USN-7259-3")
    vendor = [s for s in glibc.severities if s.type is SeverityType.VENDOR]
    assert [(s.value, s.rating) for s in vendor] == [("medium", "MEDIUM")]
    openssl = advs["CVE-2024-0727"]
    assert _view(openssl) == [
        ("Ubuntu:18.04:LTS", "openssl", ("1.1.1-1ubuntu2.1~18.04.23+esm4",)),
        ("Ubuntu:22.04:LTS", "edk2", ()),  # affected, no fix published
        ("Ubuntu:22.04:LTS", "openssl", ("3.0.2-0ubuntu1.14",)),
    ]


def test_lineages_an_image_cannot_name_are_left_out() -> None:
    assert release_ecosystem("Ubuntu:22.04:LTS") == ("Ubuntu:22.04:LTS", False)
    assert release_ecosystem("Ubuntu:24.10") == ("Ubuntu:24.10", False)
    assert release_ecosystem("Ubuntu:Pro:18.04:LTS") == ("Ubuntu:18.04:LTS", True)
    for other in (
        "Ubuntu:Pro:FIPS:16.04:LTS",
        "Ubuntu:Pro:FIPS-updates:22.04:LTS",
        "Ubuntu:Pro:24.04:LTS:Realtime:Kernel",
        "Ubuntu:22.04:LTS:for:NVIDIA:BlueField",
    ):
        assert release_ecosystem(other) is None


def _entry(ecosystem: str, fixed: str | None) -> Affected:
    events = [Event(EventKind.INTRODUCED, "0")]
    if fixed:
        events.append(Event(EventKind.FIXED, fixed))
    return Affected(ecosystem, "curl", (Range(RangeType.ECOSYSTEM, tuple(events)),))


@pytest.mark.parametrize(
    ("release_fix", "pro_fix", "kept"),
    [
        ("7.81.0-1ubuntu1.16", "7.81.0-1ubuntu1.16+esm1", ("7.81.0-1ubuntu1.16",)),
        (None, "7.81.0-1ubuntu1.16+esm1", ("7.81.0-1ubuntu1.16+esm1",)),
        (None, None, ()),
    ],
)
def test_release_fix_wins_over_pro(
    release_fix: str | None, pro_fix: str | None, kept: tuple[str, ...]
) -> None:
    for order in (1, -1):
        entries = (_entry("Ubuntu:22.04:LTS", release_fix), _entry("Ubuntu:Pro:22.04:LTS", pro_fix))
        adv = Advisory(AdvisoryID("UBUNTU-CVE-2099-1"), "osv:Ubuntu", affected=entries[::order])
        (only,) = normalize(adv).affected
        assert (only.ecosystem, only.fixed_versions) == ("Ubuntu:22.04:LTS", kept)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


def test_fetch_all_zip_then_304(upstream: Upstream, tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(DATA.rglob("*.json")):
            zf.write(p, p.name)
    upstream.resources["/Ubuntu/all.zip"] = Resource(archive.read_bytes(), etag='"u1"')
    root = tmp_path / "tmp"
    root.mkdir()
    feed = UbuntuFeed(
        url=upstream.url("/Ubuntu/all.zip"), policy=DownloadPolicy(tmp_root=root, timeout=10)
    )
    assert isinstance(feed, Feed)
    with httpx.Client() as http:
        fetched = feed.fetch(None, http)
        assert isinstance(fetched, Fetched)
        with fetched:
            ids = {x.id for x in feed.parse(fetched) if isinstance(x, Advisory)}
        assert ids == {"UBUNTU-CVE-2025-0395", "CVE-2024-0727"}
        assert feed.fetch(fetched.fingerprint, http) is UNCHANGED
    assert upstream.log[-1][1].get("If-None-Match") == '"u1"'


def test_registered_with_the_real_upstream() -> None:
    feed = next(f for f in default_feeds() if f.name == "osv:Ubuntu")
    assert isinstance(feed, UbuntuFeed)
    assert feed.source_url == "https://osv-vulnerabilities.storage.googleapis.com/Ubuntu/all.zip"
