"""Microsoft's OVAL for CBL-Mariner 1.0, 2.0 and Azure Linux 3.0: real records, one advisory per
CVE and release, the release told from the file, the conditional download and `db import`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockwatch.clock import ControlledClock
from dockwatch.feeds import UNCHANGED, Feed, Fetched, default_feeds
from dockwatch.feeds.azurelinux import AzureLinuxFeed, parse_file
from dockwatch.feeds.detect import Format, sniff
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.feeds.feed import FeedFormatError, IncompleteDownload
from dockwatch.model.advisory import Advisory, EventKind
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.unit.feeds.upstream import Resource, Upstream, serve

DATA = Path(__file__).parents[2] / "data" / "feeds" / "azurelinux"


def _advisories(path: Path, release: str | None = None) -> dict[str, Advisory]:
    return {a.id: a for a in parse_file(path, release) if isinstance(a, Advisory)}


def test_one_advisory_per_cve_with_every_package() -> None:
    advs = _advisories(DATA / "cbl-mariner-2.0-oval.xml")
    (cve,) = advs.values()
    assert cve.id == "CVE-2023-5678" and cve.source == "cbl-mariner-2.0"
    assert {(a.ecosystem, a.name, a.fixed_versions) for a in cve.affected} == {
        ("Azure Linux:2.0", "openssl", ("1.1.1k-28.cm2",)),
        ("Azure Linux:2.0", "edk2", ("20230301gitf80f052277c8-38.cm2",)),
    }
    assert {a.rating for a in cve.severities} == {"MEDIUM"}


def test_no_patch_is_affected_up_to_the_current_build() -> None:
    advs = _advisories(DATA / "cbl-mariner-1.0-oval.xml")
    (syslinux,) = advs["CVE-2022-3857"].affected
    assert syslinux.fixed_versions == ()
    assert [(e.kind, e.version) for r in syslinux.ranges for e in r.events] == [
        (EventKind.INTRODUCED, "0"),
        (EventKind.LAST_AFFECTED, "6.04-9.cm1"),
    ]


def test_release_from_the_name_else_the_dist_tag(tmp_path: Path) -> None:
    renamed = tmp_path / "download.xml"
    renamed.write_bytes((DATA / "azurelinux-3.0-oval.xml").read_bytes())
    advs = _advisories(renamed)
    assert {a.affected[0].ecosystem for a in advs.values()} == {"Azure Linux:3.0"}
    assert {a.source for a in advs.values()} == {"azurelinux-3.0"}
    other = tmp_path / "other.xml"
    other.write_text(
        "<oval_definitions><generator><product_name>Someone else</product_name></generator>"
        "</oval_definitions>"
    )
    with pytest.raises(FeedFormatError, match="not Microsoft's OVAL"):
        list(parse_file(other))


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


def test_fetch_then_304_and_a_cut_body(upstream: Upstream) -> None:
    body = (DATA / "azurelinux-3.0-oval.xml").read_bytes()
    upstream.resources["/data/azurelinux-3.0-oval.xml"] = Resource(body, etag='"a1"')
    feed = AzureLinuxFeed("3.0", base_url=upstream.url("/data/"), policy=DownloadPolicy(timeout=10))
    assert isinstance(feed, Feed) and feed.name == "azurelinux-3.0"
    with httpx.Client() as http:
        fetched = feed.fetch(None, http)
        assert isinstance(fetched, Fetched)
        with fetched:
            assert len([a for a in feed.parse(fetched) if isinstance(a, Advisory)]) == 3
        assert feed.fetch(fetched.fingerprint, http) is UNCHANGED
        assert upstream.log[-1][1].get("If-None-Match") == '"a1"'
        upstream.resources["/data/azurelinux-3.0-oval.xml"] = Resource(body[:-200], etag='"a2"')
        with pytest.raises(IncompleteDownload):
            feed.fetch(None, http)


def test_registered_and_importable(tmp_path: Path) -> None:
    feeds = {f.name: f for f in default_feeds()}
    assert {n: getattr(feeds[n], "url", None) for n in feeds if "mariner" in n or "azure" in n} == {
        "cbl-mariner-1.0": "https://raw.githubusercontent.com/microsoft/AzureLinuxVulnerabilityData/main/cbl-mariner-1.0-oval.xml",
        "cbl-mariner-2.0": "https://raw.githubusercontent.com/microsoft/AzureLinuxVulnerabilityData/main/cbl-mariner-2.0-oval.xml",
        "azurelinux-3.0": "https://raw.githubusercontent.com/microsoft/AzureLinuxVulnerabilityData/main/azurelinux-3.0-oval.xml",
    }
    assert {sniff(p) for p in DATA.glob("*.xml")} == {Format.AZURELINUX}
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    report = import_paths(VulnDb(SqlStore(db), ControlledClock()), [DATA])
    assert {(r.source, len(r.added)) for r in report.results} == {
        ("cbl-mariner-1.0", 2),
        ("cbl-mariner-2.0", 1),
        ("azurelinux-3.0", 3),
    }
