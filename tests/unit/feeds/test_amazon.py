"""Amazon Linux (ALAS) and Bottlerocket (BRSA) updateinfo: parsing real records, the repository
walk (mirror list -> repomd.xml -> updateinfo) with conditional requests, and bad input."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from dockwatch.clock import ControlledClock
from dockwatch.feeds import UNCHANGED, Feed, Fetched, default_feeds
from dockwatch.feeds.amazon import MIRROR_LISTS, AmazonFeed, BottlerocketFeed
from dockwatch.feeds.detect import Format, sniff
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.feeds.feed import FeedFormatError, IncompleteDownload, ParseProblem
from dockwatch.feeds.updateinfo import parse_file
from dockwatch.model.advisory import Advisory, SeverityType
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.unit.feeds.upstream import Resource, Upstream, serve

DATA = Path(__file__).parents[2] / "data" / "feeds" / "amazon"
AL2023 = DATA / "al2023-updateinfo.xml.gz"
AL2 = DATA / "al2-updateinfo.xml.gz"
BOTTLEROCKET = DATA / "bottlerocket-updateinfo.xml.gz"


def _advisories(path: Path) -> dict[str, Advisory]:
    return {a.id: a for a in parse_file(path) if isinstance(a, Advisory)}


def _fixed(adv: Advisory) -> dict[str, tuple[str, ...]]:
    return {a.name: a.fixed_versions for a in adv.affected}


def test_al2023_record() -> None:
    (adv,) = _advisories(AL2023).values()
    assert adv.id == "ALAS2023-2023-001" and adv.source == "amazon"
    assert adv.related == ("CVE-2014-3634", "CVE-2022-24903")  # each CVE is a finding
    assert adv.cve_ids == ("CVE-2014-3634", "CVE-2022-24903")
    assert adv.summary.startswith("Amazon Linux 2023 - ALAS2023-2023-001")
    assert adv.published == datetime(2023, 2, 17, 20, 41, tzinfo=UTC)
    assert adv.modified == datetime(2023, 2, 22, 23, 22, tzinfo=UTC)
    ((severity),) = adv.severities
    assert (severity.type, severity.value, severity.rating) == (
        SeverityType.VENDOR,
        "important",
        "HIGH",
    )
    assert {a.ecosystem for a in adv.affected} == {"Amazon Linux:2023"}
    fixed = _fixed(adv)
    # binary packages, each architecture's entry folded into one
    assert fixed["rsyslog"] == ("8.2204.0-3.amzn2023.0.2",)
    assert fixed["rsyslog-openssl"] == ("8.2204.0-3.amzn2023.0.2",)
    assert "rsyslog-doc" in fixed and not any("debuginfo" in n for n in fixed)


def test_al2_records_keep_epochs() -> None:
    advs = _advisories(AL2)
    assert set(advs) == {"ALAS2-2018-939", "ALAS2-2018-942", "ALAS2-2018-949"}
    assert {a.ecosystem for adv in advs.values() for a in adv.affected} == {"Amazon Linux:2"}
    assert _fixed(advs["ALAS2-2018-942"])["qemu-img"] == ("10:1.5.3-141.amzn2.5.3",)
    assert _fixed(advs["ALAS2-2018-949"])["java-1.8.0-openjdk-headless"] == (
        "1:1.8.0.161-0.b14.amzn2",
    )
    assert _fixed(advs["ALAS2-2018-939"])["kernel"] == ("4.9.76-38.79.amzn2",)
    assert len(advs["ALAS2-2018-949"].related) == 15
    assert advs["ALAS2-2018-939"].severities[0].rating == "CRITICAL"


def test_bottlerocket_records() -> None:
    advs = {
        str(a.id): a for a in BottlerocketFeed().parse_file(BOTTLEROCKET) if isinstance(a, Advisory)
    }
    assert set(advs) == {"BRSA-1bwujdrkn6nc", "BRSA-kdg8bd1th2gb"}
    glibc = advs["BRSA-kdg8bd1th2gb"]
    assert glibc.source == "bottlerocket" and glibc.related == ("CVE-2025-15281",)
    assert {a.ecosystem for a in glibc.affected} == {"Bottlerocket"}
    assert _fixed(glibc) == {
        "bottlerocket-glibc": ("1:2.43-1.1773716061.e2e9d7a9.br1",),
        "glibc": ("1:2.43-1.1773716061.e2e9d7a9.br1",),
    }
    assert glibc.published == datetime(2026, 3, 17, 16, 22, 44, tzinfo=UTC)
    assert any("bottlerocket-core-kit" in r.url for r in glibc.references)


def test_detected_and_imported_for_air_gapped_sites(tmp_path: Path) -> None:
    for path in (AL2023, AL2, BOTTLEROCKET):
        assert sniff(path) is Format.UPDATEINFO
    plain = tmp_path / "updateinfo.xml"
    plain.write_bytes(gzip.decompress(AL2023.read_bytes()))
    assert sniff(plain) is Format.UPDATEINFO
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    report = import_paths(VulnDb(SqlStore(db), ControlledClock()), [DATA])
    added = {r.source: sorted(r.added) for r in report.results}
    assert added == {
        "amazon": ["ALAS2-2018-939", "ALAS2-2018-942", "ALAS2-2018-949", "ALAS2023-2023-001"],
        "bottlerocket": ["BRSA-1bwujdrkn6nc", "BRSA-kdg8bd1th2gb"],
    }
    assert report.problems == []


def _xml(*updates: str, prolog: str = "") -> bytes:
    return (f'<?xml version="1.0" ?>{prolog}<updates>' + "".join(updates) + "</updates>").encode()


_GOOD = (
    '<update type="security"><id>ALAS2023-2099-001</id><severity>Low</severity>'
    '<references><reference type="cve" id="CVE-2099-0001" href="https://example.invalid/1"/>'
    '</references><pkglist><collection><package name="zlib" epoch="0" version="1.2.13" '
    'release="1.amzn2023.0.2" arch="x86_64"/></collection></pkglist></update>'
)


def test_bad_update_is_a_problem_and_the_rest_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "u.xml"
    no_id = _GOOD.replace("<id>ALAS2023-2099-001</id>", "")
    bad_version = _GOOD.replace('version="1.2.13"', 'version="1.2 13"').replace("-001", "-002")
    no_packages = '<update type="security"><id>ALAS2023-2099-003</id></update>'
    unknown_release = _GOOD.replace("ALAS2023-2099-001", "XYZ-2099-004")
    bugfix = _GOOD.replace('type="security"', 'type="bugfix"').replace("-001", "-005")
    path.write_bytes(_xml(no_id, bad_version, no_packages, unknown_release, bugfix, _GOOD))
    items = list(parse_file(path))
    problems = [i for i in items if isinstance(i, ParseProblem)]
    assert len(problems) == 4
    (adv,) = [i for i in items if isinstance(i, Advisory)]
    assert adv.id == "ALAS2023-2099-001" and adv.severities[0].rating == "LOW"


@pytest.mark.parametrize(
    "body",
    [
        _xml(_GOOD, prolog='<!DOCTYPE u [<!ENTITY a "aaaa">]>'),  # entities: refused
        _xml(_GOOD)[:-20],  # cut short
        b"not xml at all",
    ],
)
def test_unusable_files_raise(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "u.xml.gz"
    path.write_bytes(gzip.compress(body))
    with pytest.raises(FeedFormatError):
        list(parse_file(path))


def test_decompressed_size_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "u.xml.gz"
    path.write_bytes(gzip.compress(_xml(*[_GOOD] * 200)))
    with pytest.raises(FeedFormatError, match="size cap"):
        list(parse_file(path, max_bytes=10_000))


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


def _repository(up: Upstream, release: str, guid: str, updateinfo: bytes, etag: str) -> str:
    """Serve a mirror list, its repomd.xml and updateinfo as Amazon's repositories lay them out."""
    base = f"/{release}/guids/{guid}/x86_64/"
    href = f"repodata/{hashlib.sha256(updateinfo).hexdigest()[:12]}-updateinfo.xml.gz"
    repomd = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<repomd xmlns="http://linux.duke.edu/metadata/repo">'
        '<data type="primary"><location href="repodata/primary.xml.gz"/></data>'
        f'<data type="updateinfo"><checksum type="sha256">{hashlib.sha256(updateinfo).hexdigest()}'
        f'</checksum><location href="{href}"/></data></repomd>'
    )
    up.resources[base + "repodata/repomd.xml"] = Resource(repomd.encode())
    up.resources[base + href] = Resource(updateinfo)
    path = f"/{release}/mirror.list"
    up.resources[path] = Resource(f"{up.url(base)}\n".encode(), etag=etag)
    return up.url(path)


def test_repository_walk_with_conditional_requests(upstream: Upstream) -> None:
    lists = (
        ("2023", _repository(upstream, "al2023", "g1", AL2023.read_bytes(), '"a1"')),
        ("2", _repository(upstream, "2", "h1", AL2.read_bytes(), '"b1"')),
    )
    feed = AmazonFeed(mirror_lists=lists, policy=DownloadPolicy(timeout=10))
    assert isinstance(feed, Feed)
    with httpx.Client() as http:
        fetched = feed.fetch(None, http)
        assert isinstance(fetched, Fetched)
        with fetched:
            assert {a.id for a in feed.parse(fetched) if isinstance(a, Advisory)} == {
                "ALAS2023-2023-001", "ALAS2-2018-939", "ALAS2-2018-942", "ALAS2-2018-949",
            }  # fmt: skip
        requests = len(upstream.log)
        assert feed.fetch(fetched.fingerprint, http) is UNCHANGED
        assert len(upstream.log) == requests + 2  # the two mirror lists, nothing else
        assert upstream.log[-1][1].get("If-None-Match") == '"b1"'
        # a new AL2023 snapshot: every release is read again, so the parse sees the whole feed
        _repository(upstream, "al2023", "g2", AL2023.read_bytes(), '"a2"')
        again = feed.fetch(fetched.fingerprint, http)
        assert isinstance(again, Fetched)
        with again:
            assert [f.label for f in again.files] == ["2023", "2"]
            assert len([a for a in feed.parse(again) if isinstance(a, Advisory)]) == 4


def test_updateinfo_not_matching_repomd_is_refused(upstream: Upstream) -> None:
    url = _repository(upstream, "al2023", "g1", AL2023.read_bytes(), '"a1"')
    href = next(p for p in upstream.resources if p.endswith("updateinfo.xml.gz"))
    upstream.resources[href] = Resource(BOTTLEROCKET.read_bytes())  # not what repomd names
    feed = AmazonFeed(mirror_lists=(("2023", url),), policy=DownloadPolicy(timeout=10))
    with httpx.Client() as http, pytest.raises(IncompleteDownload, match="sha256"):
        feed.fetch(None, http)


def test_registered_with_the_real_upstreams() -> None:
    feeds = {f.name: f for f in default_feeds()}
    amazon = feeds["amazon"]
    assert isinstance(amazon, AmazonFeed) and amazon.mirror_lists == MIRROR_LISTS
    assert dict(MIRROR_LISTS) == {
        "2023": "https://cdn.amazonlinux.com/al2023/core/mirrors/latest/x86_64/mirror.list",
        "2": "https://cdn.amazonlinux.com/2/core/latest/x86_64/mirror.list",
        "1": "http://repo.us-west-2.amazonaws.com/2018.03/updates/x86_64/mirror.list",
    }
    bottlerocket = feeds["bottlerocket"]
    assert isinstance(bottlerocket, BottlerocketFeed)
    assert bottlerocket.url == "https://advisories.bottlerocket.aws/updateinfo.xml.gz"
