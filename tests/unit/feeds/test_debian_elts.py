"""Freexian's Extended LTS tracker: Debian 8-10 matched against ELAs, not the Debian tracker.

Expected verdicts come from the raw tracker file and `dpkg --compare-versions`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from dockwatch import distros
from dockwatch.clock import ControlledClock
from dockwatch.distros import Supported, Unsupported, UnsupportedReason
from dockwatch.feeds import UNCHANGED, Feed, Fetched, default_feeds
from dockwatch.feeds.debian import DebianFeed
from dockwatch.feeds.debian_elts import DebianEltsFeed
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.match.service import MatchIndex, match
from dockwatch.model.advisory import Advisory
from dockwatch.model.distro import Distro
from dockwatch.model.package import Package
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.unit.feeds.upstream import Resource, Upstream, serve

DATA = Path(__file__).parents[2] / "data" / "feeds" / "elts" / "elts-tracker.json"
TODAY = date(2026, 12, 5)
CODENAMES = {"jessie": "8", "stretch": "9", "buster": "10"}


def _advisories(feed: Feed) -> dict[str, Advisory]:
    items = feed.parse(Fetched.local(feed.name, DATA))
    return {a.id: a for a in items if isinstance(a, Advisory)}


def test_elts_entries_are_read_for_its_releases_only_by_its_feed() -> None:
    elts = _advisories(DebianEltsFeed())
    raw = json.loads(DATA.read_text())
    expected = {
        (cve, f"Debian:{CODENAMES[codename]}", pkg, rel["fixed_version"])
        for pkg, issues in raw.items()
        for cve, issue in issues.items()
        for codename, rel in issue["releases"].items()
    }
    got = {
        (adv.id, a.ecosystem, a.name, v)
        for adv in elts.values()
        for a in adv.affected
        for v in a.fixed_versions
    }
    assert got == expected
    assert {a.source for a in elts.values()} == {"debian-elts"}
    link = elts["CVE-2024-36474"].references[0].url
    assert link == "https://deb.freexian.com/extended-lts/tracker/CVE-2024-36474"
    # the Debian tracker no longer speaks for releases past LTS: its stale entries are left out
    assert all(not adv.affected for adv in _advisories(DebianFeed()).values())


def test_elts_leaves_out_issues_of_other_releases(tmp_path: Path) -> None:
    raw = json.loads(DATA.read_text())
    issue = raw["libgsf"]["CVE-2024-36474"]
    raw["libgsf"]["CVE-2099-1"] = {"releases": {"bookworm": issue["releases"]["buster"]}}
    path = tmp_path / "elts.json"
    path.write_text(json.dumps(raw))
    items = list(DebianEltsFeed().parse(Fetched.local("debian-elts", path)))
    ids = {a.id for a in items if isinstance(a, Advisory)}
    assert "CVE-2099-1" not in ids and "CVE-2024-36474" in ids


def test_release_table_follows_elts() -> None:
    buster = distros.lookup("debian", "10", today=TODAY, codename="buster")
    assert isinstance(buster, Supported) and buster.release.ecosystem == "Debian:10"
    assert isinstance(distros.lookup("debian", "9", today=TODAY), Supported)
    jessie = distros.lookup("debian", "8", today=TODAY)  # ELTS for jessie ended 2025-06-30
    assert isinstance(jessie, Unsupported) and jessie.reason is UnsupportedReason.END_OF_LIFE
    assert isinstance(distros.lookup("debian", "8", today=date(2025, 6, 30)), Supported)
    late = distros.lookup("debian", "10", today=date(2029, 7, 1))
    assert isinstance(late, Unsupported) and late.reason is UnsupportedReason.END_OF_LIFE


def _dpkg_lt(a: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> MatchIndex:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('vdb') / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    elts = _advisories(DebianEltsFeed())
    VulnDb(store, ControlledClock()).apply("debian-elts", list(elts.values()))
    return MatchIndex(store)


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")
@pytest.mark.parametrize("version", ["1.14.45-1", "1.14.45-1+deb10u1"])
def test_buster_image_matches_elts_advisories(index: MatchIndex, version: str) -> None:
    """buster's libgsf 1.14.45-1 is affected; 1.14.45-1+deb10u1 carries Freexian's fix although
    upstream 1.14.45 is affected (the backport): no finding."""
    pkg = Package(
        name="libgsf-1-114",
        version=version,
        type="deb",
        purl=f"pkg:deb/debian/libgsf-1-114@{version}",
        source_name="libgsf",
        source_version=version,
    )
    report = match([pkg], Distro("debian", "10", "buster"), index, today=TODAY)
    assert report.unsupported_os is None
    raw = json.loads(DATA.read_text())["libgsf"]
    expected = {
        cve: issue["releases"]["buster"]["fixed_version"]
        for cve, issue in raw.items()
        if _dpkg_lt(version, issue["releases"]["buster"]["fixed_version"])
    }
    assert {m.advisory_id: m.fixed_version for m in report.matches} == expected
    assert {m.source for m in report.matches} <= {"debian-elts"}
    if version == "1.14.45-1":
        assert len(expected) == 2  # the oracle is not vacuous


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


def test_fetch_then_304(upstream: Upstream) -> None:
    path = "/extended-lts/tracker/data/json"
    upstream.resources[path] = Resource(DATA.read_bytes(), etag='"e1"')
    feed = DebianEltsFeed(url=upstream.url(path), policy=DownloadPolicy(timeout=10))
    with httpx.Client() as http:
        fetched = feed.fetch(None, http)
        assert isinstance(fetched, Fetched)
        with fetched:
            assert len([x for x in feed.parse(fetched) if isinstance(x, Advisory)]) == 4
        assert feed.fetch(fetched.fingerprint, http) is UNCHANGED
    assert upstream.log[-1][1].get("If-None-Match") == '"e1"'


def test_registered_and_importable(tmp_path: Path) -> None:
    feed = {f.name: f for f in default_feeds()}["debian-elts"]
    assert isinstance(feed, DebianEltsFeed)
    assert feed.url == "https://deb.freexian.com/extended-lts/tracker/data/json"
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    report = import_paths(VulnDb(SqlStore(db), ControlledClock()), [DATA])
    (result,) = report.results
    assert result.source == "debian-elts"
    assert sorted(result.added) == ["CVE-2024-2756", "CVE-2024-3096", "CVE-2024-36474",
                                    "CVE-2024-42415"]  # fmt: skip
