"""Red Hat's CSAF VEX files: what each document becomes, the stream decision, the archive and
`changes.csv` increments, and `db import`.

Expected values are the facts of the records (tests/data/feeds/redhat/README.md), written out
here, not read back from the parser.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import zstandard

from dockwatch.clock import ControlledClock
from dockwatch.feeds import UNCHANGED, Feed, Fetched, default_feeds
from dockwatch.feeds.detect import Format, sniff
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.feeds.feed import ParseProblem
from dockwatch.feeds.redhat import RedHatFeed, parse_path
from dockwatch.model.advisory import Advisory, AffectedStatus, EventKind
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.runner import sync
from dockwatch.vulndb.service import VulnDb
from tests.unit.feeds.upstream import Resource, Upstream, serve

DATA = Path(__file__).parents[2] / "data" / "feeds" / "redhat"
FILES = {
    "2005/cve-2005-2541.json": DATA / "cve-2005-2541.json",
    "2021/cve-2021-25220.json": DATA / "cve-2021-25220.json",
    "2023/cve-2023-28755.json": DATA / "cve-2023-28755.json",
    "2024/cve-2024-0208.json": DATA / "cve-2024-0208.json",
    "2024/cve-2024-8088.json": DATA / "cve-2024-8088.json",
}


def _parsed() -> dict[str, Advisory]:
    return {a.id: a for a in parse_path(DATA) if isinstance(a, Advisory)}


def _entries(adv: Advisory) -> dict[tuple[str, str], tuple[str, tuple[str, ...]]]:
    return {
        (a.ecosystem, a.name): (
            a.status.value,
            tuple(e.version for r in a.ranges for e in r.events if e.kind is EventKind.FIXED),
        )
        for a in adv.affected
    }


def test_fixed_builds_of_the_main_streams_only() -> None:
    """bind, CVE-2021-25220: RHEL 7, 8 and 9 main-stream fixes with their RHSA; the 8.6 EUS,
    9.0 E4S and RHEL 6 ELS builds are other streams and stay out."""
    adv = _parsed()["CVE-2021-25220"]
    assert _entries(adv) == {
        ("Red Hat:7", "bind"): ("affected", ("32:9.11.4-26.P2.el7_9.13",)),
        ("Red Hat:8", "bind"): ("affected", ("32:9.11.36-5.el8",)),
        ("Red Hat:8", "bind9.16"): ("affected", ("32:9.16.23-0.9.el8.1",)),
        ("Red Hat:9", "bind"): ("affected", ("32:9.16.23-5.el9_1",)),
        ("Red Hat:9", "dhcp"): ("affected", ("12:4.4.2-17.b1.el9",)),
    }
    assert set(adv.related) == {
        "RHSA-2023:0402", "RHSA-2022:7643", "RHSA-2022:7790", "RHSA-2022:8068", "RHSA-2022:8385",
    }  # fmt: skip
    assert "RHSA-2024:2720" not in adv.related and "RHSA-2025:23414" not in adv.related
    assert adv.source == "redhat" and adv.cve_ids == ("CVE-2021-25220",)
    assert adv.summary == "bind: DNS forwarders - cache poisoning vulnerability"
    assert "https://access.redhat.com/errata/RHSA-2022:7790" in {r.url for r in adv.references}
    vendor = [s for s in adv.severities if s.type.value == "VENDOR"]
    assert [(s.value, s.rating) for s in vendor] == [("Moderate", "MEDIUM")]
    assert adv.cwe_ids == ("CWE-444",)


def test_two_fixes_in_one_stream_and_binaries_under_their_own_names() -> None:
    adv = _parsed()["CVE-2024-8088"]
    assert _entries(adv) == {
        ("Red Hat:9", "python3.9"): ("affected", ("3.9.18-3.el9_4.5", "3.9.19-8.el9")),
    }
    cvss = [s for s in adv.severities if s.type.value == "CVSS_V3"]
    assert [(s.value, s.base_score) for s in cvss] == [
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:N/I:N/A:H", 5.3)
    ]


def test_module_builds_are_named_by_module_stream() -> None:
    """ruby, CVE-2023-28755: the ruby:2.7 and ruby:2.5 module streams are fixed in different
    builds; rubygem-rake carries its own version, not ruby's, so it has its own entry, while
    ruby-libs (ruby's version) is found through its source rpm."""
    assert _entries(_parsed()["CVE-2023-28755"]) == {
        ("Red Hat:8", "ruby:2.5/ruby"): ("affected", ("2.5.9-111.module+el8.9.0+19193+435404ae",)),
        ("Red Hat:8", "ruby:2.5/rubygem-rake"): (
            "affected",
            ("12.3.3-111.module+el8.9.0+19193+435404ae",),
        ),
        ("Red Hat:8", "ruby:2.7/ruby"): ("affected", ("2.7.8-139.module+el8.8.0+18745+f1bef313",)),
        ("Red Hat:8", "ruby:2.7/rubygem-rake"): (
            "affected",
            ("13.0.1-139.module+el8.8.0+18745+f1bef313",),
        ),
    }


def test_will_not_fix_keeps_the_vendors_word() -> None:
    adv = _parsed()["CVE-2005-2541"]
    assert _entries(adv) == {("Red Hat:10", "tar"): ("wont_fix", ())}  # RHEL 6: not in the table
    assert adv.affected[0].ranges[0].events[0].version == "0"  # every version, no fix
    assert "Red Hat Enterprise Linux 10, tar: Will not fix" in adv.details


def test_not_affected_and_the_statement() -> None:
    adv = _parsed()["CVE-2024-0208"]
    assert {k: v[0] for k, v in _entries(adv).items()} == {
        ("Red Hat:7", "wireshark"): "not_affected",
        ("Red Hat:8", "wireshark"): "not_affected",
        ("Red Hat:9", "wireshark"): "not_affected",
    }
    assert "did not include the vulnerable code" in adv.details
    assert all(a.status is AffectedStatus.NOT_AFFECTED for a in adv.affected)


def test_bad_documents_are_problems_not_failures(tmp_path: Path) -> None:
    (tmp_path / "cve-2024-0001.json").write_text('{"document": {"category": "csaf_vex"')
    (tmp_path / "cve-2024-0002.json").write_text('{"document": {"category": "csaf_vex"}}')
    items = list(parse_path(tmp_path))
    assert [type(i) for i in items] == [ParseProblem, ParseProblem]


def test_detected_and_imported(tmp_path: Path) -> None:
    assert sniff(DATA / "cve-2024-8088.json") is Format.REDHAT_VEX
    archive = _archive(tmp_path)
    assert sniff(archive) is Format.REDHAT_VEX
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    vdb = VulnDb(SqlStore(db), ControlledClock())
    report = import_paths(vdb, [archive])
    assert [(r.source, sorted(r.added)) for r in report.results] == [("redhat", sorted(_parsed()))]
    report = import_paths(vdb, [DATA])  # the same records from the folder: nothing changes
    assert [(r.source, r.added, r.unchanged) for r in report.results] == [("redhat", [], 5)]


def _archive(tmp_path: Path, skip: str = "") -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for rel, path in FILES.items():
            if rel != skip:
                tar.add(path, arcname=rel)
    out = tmp_path / "csaf_vex_2025-12-06.tar.zst"
    out.write_bytes(zstandard.ZstdCompressor().compress(raw.getvalue()))
    return out


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


def _ids(feed: RedHatFeed, fetched: Fetched) -> dict[str, bool]:
    """advisory id -> withdrawn."""
    return {a.id: a.withdrawn is not None for a in feed.parse(fetched) if isinstance(a, Advisory)}


def test_full_load_then_304_then_an_increment(upstream: Upstream, tmp_path: Path) -> None:
    """The archive lacks tar's file, changed after the archive's date; wireshark's file was
    deleted after it."""
    res = upstream.resources
    res["/vex/archive_latest.txt"] = Resource(b"csaf_vex_2025-12-06.tar.zst\n")
    res["/vex/csaf_vex_2025-12-06.tar.zst"] = Resource(
        _archive(tmp_path, skip="2005/cve-2005-2541.json").read_bytes()
    )
    res["/vex/2005/cve-2005-2541.json"] = Resource(FILES["2005/cve-2005-2541.json"].read_bytes())
    res["/vex/changes.csv"] = Resource(
        b'"2005/cve-2005-2541.json","2025-12-07T10:00:00+00:00"\n'
        b'"2021/cve-2021-25220.json","2025-11-30T08:00:00+00:00"\n',
        etag='"c1"',
    )
    res["/vex/deletions.csv"] = Resource(b'"2024/cve-2024-0208.json","2025-12-06T12:00:00+00:00"\n')
    feed = RedHatFeed(base_url=upstream.url("/vex/"), policy=DownloadPolicy(timeout=10))
    assert isinstance(feed, Feed)
    with httpx.Client() as http:
        full = feed.fetch(None, http)
        assert isinstance(full, Fetched) and full.complete
        with full:
            assert _ids(feed, full) == {
                "CVE-2021-25220": False,
                "CVE-2023-28755": False,
                "CVE-2024-0208": True,  # withdrawn: deleted after the archive
                "CVE-2024-8088": False,
                "CVE-2005-2541": False,  # changed after the archive: fetched on its own
            }
        assert feed.fetch(full.fingerprint, http) is UNCHANGED
        assert upstream.log[-1][0] == "/vex/changes.csv"
        assert upstream.log[-1][1].get("If-None-Match") == '"c1"'

        res["/vex/2024/cve-2024-8088.json"] = Resource(
            FILES["2024/cve-2024-8088.json"].read_bytes()
        )
        res["/vex/changes.csv"] = Resource(
            b'"2024/cve-2024-8088.json","2025-12-08T09:00:00+00:00"\n'
            + res["/vex/changes.csv"].body,
            etag='"c2"',
        )
        before = len(upstream.log)
        step = feed.fetch(full.fingerprint, http)
        assert isinstance(step, Fetched) and not step.complete
        with step:
            assert _ids(feed, step) == {"CVE-2024-8088": False}
        fetched_paths = [p for p, _ in upstream.log[before:]]
        assert "/vex/csaf_vex_2025-12-06.tar.zst" not in fetched_paths
        assert "/vex/2005/cve-2005-2541.json" not in fetched_paths  # already applied
        assert feed.fetch(step.fingerprint, http) is UNCHANGED


def test_a_new_archive_is_a_full_load(upstream: Upstream, tmp_path: Path) -> None:
    res = upstream.resources
    res["/vex/archive_latest.txt"] = Resource(b"csaf_vex_2025-12-06.tar.zst")
    res["/vex/csaf_vex_2025-12-06.tar.zst"] = Resource(_archive(tmp_path).read_bytes())
    res["/vex/changes.csv"] = Resource(b"", etag='"c1"')
    res["/vex/deletions.csv"] = Resource(b"")
    feed = RedHatFeed(base_url=upstream.url("/vex"), policy=DownloadPolicy(timeout=10))
    with httpx.Client() as http:
        first = feed.fetch(None, http)
        assert isinstance(first, Fetched)
        first.close()
        res["/vex/archive_latest.txt"] = Resource(b"csaf_vex_2025-12-13.tar.zst")
        res["/vex/csaf_vex_2025-12-13.tar.zst"] = res["/vex/csaf_vex_2025-12-06.tar.zst"]
        again = feed.fetch(first.fingerprint, http)
        assert isinstance(again, Fetched) and again.complete
        with again:
            assert len(_ids(feed, again)) == 5


def test_a_cut_archive_fails_the_fetch(upstream: Upstream, tmp_path: Path) -> None:
    body = _archive(tmp_path).read_bytes()
    upstream.resources["/vex/archive_latest.txt"] = Resource(b"csaf_vex_2025-12-06.tar.zst")
    upstream.resources["/vex/csaf_vex_2025-12-06.tar.zst"] = Resource(body[: len(body) // 2])
    feed = RedHatFeed(base_url=upstream.url("/vex/"), policy=DownloadPolicy(timeout=10))
    with httpx.Client() as http, pytest.raises(Exception, match="verification failed"):
        feed.fetch(None, http)


def test_registered_with_the_real_upstream() -> None:
    feeds = {f.name: f for f in default_feeds()}
    assert isinstance(feeds["redhat"], RedHatFeed)
    assert feeds["redhat"].base_url == "https://security.access.redhat.com/data/csaf/v2/vex/"


def test_db_sync_applies_an_increment_without_withdrawing_the_rest(
    upstream: Upstream, tmp_path: Path
) -> None:
    res = upstream.resources
    res["/vex/archive_latest.txt"] = Resource(b"csaf_vex_2025-12-06.tar.zst")
    res["/vex/csaf_vex_2025-12-06.tar.zst"] = Resource(_archive(tmp_path).read_bytes())
    res["/vex/changes.csv"] = Resource(b"", etag='"c1"')
    res["/vex/deletions.csv"] = Resource(b"")
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    vdb = VulnDb(store, ControlledClock())
    feed = RedHatFeed(base_url=upstream.url("/vex/"), policy=DownloadPolicy(timeout=10))
    with httpx.Client() as http:
        (first,) = sync(vdb, [feed], http)
        assert first.status == "updated" and first.result is not None
        assert len(first.result.added) == 5
        res["/vex/2024/cve-2024-8088.json"] = Resource(
            FILES["2024/cve-2024-8088.json"].read_bytes()
        )
        res["/vex/changes.csv"] = Resource(
            b'"2024/cve-2024-8088.json","2025-12-08T09:00:00+00:00"\n', etag='"c2"'
        )
        res["/vex/deletions.csv"] = Resource(
            b'"2024/cve-2024-0208.json","2025-12-08T10:00:00+00:00"\n'
        )
        (second,) = sync(vdb, [feed], http)
        assert second.result is not None
        assert second.result.withdrawn == ["CVE-2024-0208"]  # deleted upstream; nothing else
        (third,) = sync(vdb, [feed], http)
        assert third.status == "unchanged"
    with store.read() as uow:
        stored = uow.vulns.stored_advisories("redhat")
    assert sorted(a for a, s in stored.items() if not s.withdrawn) == [
        "CVE-2005-2541", "CVE-2021-25220", "CVE-2023-28755", "CVE-2024-8088",
    ]  # fmt: skip
