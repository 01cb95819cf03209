"""Oracle's ELSA OVAL: real records, the path rules (release, architecture, Ksplice, FIPS,
kernel streams), the conditional download and `db import`."""

from __future__ import annotations

import bz2
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockwatch.clock import ControlledClock
from dockwatch.feeds import UNCHANGED, Feed, Fetched, default_feeds
from dockwatch.feeds.detect import Format, sniff
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.feeds.feed import IncompleteDownload, ParseProblem
from dockwatch.feeds.oracle import URL, OracleFeed, parse_file
from dockwatch.model.advisory import Advisory, EventKind, SeverityType
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.unit.feeds.upstream import Resource, Upstream, serve

DATA = Path(__file__).parents[2] / "data" / "feeds" / "oracle"


def _events(adv: Advisory) -> dict[tuple[str, str], list[list[tuple[str, str]]]]:
    return {
        (a.ecosystem, a.name): [[(e.kind.value, e.version) for e in r.events] for r in a.ranges]
        for a in adv.affected
    }


def test_real_records() -> None:
    (sudo,) = [a for a in parse_file(DATA / "com.oracle.elsa-2019.xml") if isinstance(a, Advisory)]
    assert sudo.id == "ELSA-2019-4821" and sudo.cve_ids == ("CVE-2019-14287",)
    assert _events(sudo) == {
        ("Oracle Linux:7", "sudo"): [[("introduced", "0"), ("fixed", "1.8.23-4.0.1.el7")]],
        ("Oracle Linux:7", "sudo-devel"): [[("introduced", "0"), ("fixed", "1.8.23-4.0.1.el7")]],
    }
    (sev,) = sudo.severities
    assert (sev.type, sev.value, sev.source) == (SeverityType.VENDOR, "IMPORTANT", "oracle")
    assert sudo.published is not None and sudo.published.date().isoformat() == "2019-10-15"
    (uek,) = [a for a in parse_file(DATA / "com.oracle.elsa-2026.xml") if isinstance(a, Advisory)]
    assert uek.cve_ids == ("CVE-2025-38085", "CVE-2025-54518")
    # one branch per release, each with its own build; both architectures agree, so one range;
    # the test's kernel stream (`5.15.0`) is where the range starts
    assert _events(uek)[("Oracle Linux:8", "bpftool")] == [
        [("introduced", "5.15.0"), ("fixed", "5.15.0-321.202.5.el8uek")]
    ]
    assert _events(uek)[("Oracle Linux:9", "kernel-uek")] == [
        [("introduced", "5.15.0"), ("fixed", "5.15.0-321.202.5.el9uek")]
    ]


def _elsa(criteria: str, tests: str, states: str) -> str:
    return f"""<?xml version="1.0"?>
<oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5">
<generator><product_name xmlns="http://oval.mitre.org/XMLSchema/oval-common-5">Oracle Errata System</product_name></generator>
<definitions><definition id="oval:com.oracle.elsa:def:20260001" class="patch"><metadata>
<title>ELSA-2026-0001: glibc security update (MODERATE)</title>
<reference source="CVE" ref_id="CVE-2026-0001" ref_url=""/>
<advisory><severity>MODERATE</severity></advisory></metadata>
{criteria}</definition></definitions>
<tests>{tests}</tests>
<objects>
<rpminfo_object xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5#linux" id="o1"><name>oraclelinux-release</name></rpminfo_object>
<rpminfo_object xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5#linux" id="o2"><name>glibc</name></rpminfo_object>
</objects>
<states>
<rpminfo_state xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5#linux" id="r9"><version operation="pattern match">^9</version></rpminfo_state>
<rpminfo_state xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5#linux" id="r6"><version operation="pattern match">^6</version></rpminfo_state>
<rpminfo_state xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5#linux" id="a1"><arch operation="pattern match">aarch64</arch></rpminfo_state>
<rpminfo_state xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5#linux" id="a2"><arch operation="pattern match">x86_64</arch></rpminfo_state>
{states}</states></oval_definitions>"""


def _test(tid: str, comment: str, obj: str, state: str) -> str:
    return (
        f'<rpminfo_test xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5#linux" id="{tid}" '
        f'comment="{comment}"><object object_ref="{obj}"/><state state_ref="{state}"/></rpminfo_test>'
    )


def _evr(sid: str, evr: str) -> str:
    return (
        f'<rpminfo_state xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5#linux" id="{sid}">'
        f'<evr datatype="evr_string" operation="less than">{evr}</evr></rpminfo_state>'
    )


GATES = (
    _test("t9", "Oracle Linux 9 is installed", "o1", "r9")
    + _test("t6", "Oracle Linux 6 is installed", "o1", "r6")
    + _test("ta", "Oracle Linux arch is aarch64", "o1", "a1")
    + _test("tx", "Oracle Linux arch is x86_64", "o1", "a2")
)


def _parse_one(tmp_path: Path, criteria: str, tests: str, states: str) -> list[object]:
    path = tmp_path / "elsa.xml"
    path.write_text(_elsa(criteria, GATES + tests, states))
    return list(parse_file(path))


def test_ksplice_and_fips_builds_are_left_out(tmp_path: Path) -> None:
    tests = (
        _test("p1", "glibc is earlier than 2:2.34-100.0.1.el9_4", "o2", "s1")
        + _test("p2", "glibc is earlier than 2:2.34-100.0.1.ksplice1.el9_4", "o2", "s2")
        + _test("p3", "glibc is ksplice-based", "o2", "s2")
        + _test("p4", "glibc is earlier than 10:2.34-100.0.1.el9_4_fips", "o2", "s4")
    )
    states = (
        _evr("s1", "2:2.34-100.0.1.el9_4")
        + _evr("s2", "2:2.34-100.0.1.ksplice1.el9_4")
        + _evr("s4", "10:2.34-100.0.1.el9_4_fips")
    )
    criteria = (
        '<criteria operator="AND"><criterion test_ref="t9"/><criteria operator="OR">'
        '<criterion test_ref="p1"/>'
        '<criteria operator="AND"><criterion test_ref="p2"/><criterion test_ref="p3"/></criteria>'
        '<criterion test_ref="p4"/></criteria></criteria>'
    )
    (adv,) = _parse_one(tmp_path, criteria, tests, states)
    assert isinstance(adv, Advisory)
    assert _events(adv) == {
        ("Oracle Linux:9", "glibc"): [[("introduced", "0"), ("fixed", "2:2.34-100.0.1.el9_4")]]
    }


def test_architectures_with_different_fixes_keep_both(tmp_path: Path) -> None:
    tests = _test("p1", "glibc is earlier than A", "o2", "s1") + _test(
        "p2", "glibc is earlier than B", "o2", "s2"
    )
    states = _evr("s1", "0:2.34-100.el9") + _evr("s2", "0:2.34-101.el9")
    criteria = (
        '<criteria operator="AND"><criterion test_ref="t9"/><criteria operator="OR">'
        '<criteria operator="AND"><criterion test_ref="ta"/><criterion test_ref="p1"/></criteria>'
        '<criteria operator="AND"><criterion test_ref="tx"/><criterion test_ref="p2"/></criteria>'
        "</criteria></criteria>"
    )
    (adv,) = _parse_one(tmp_path, criteria, tests, states)
    assert isinstance(adv, Advisory)
    (glibc,) = adv.affected
    assert sorted(
        e.version for r in glibc.ranges for e in r.events if e.kind is EventKind.FIXED
    ) == [
        "2.34-100.el9",
        "2.34-101.el9",
    ]


def test_unlisted_releases_and_unreadable_criteria(tmp_path: Path) -> None:
    tests = _test("p1", "glibc is earlier than A", "o2", "s1")
    states = _evr("s1", "0:2.12-1.el6")
    only_6 = (
        '<criteria operator="AND"><criterion test_ref="t6"/><criterion test_ref="p1"/></criteria>'
    )
    assert _parse_one(tmp_path, only_6, tests, states) == []  # Oracle Linux 6 is not in the table
    negated = '<criteria operator="AND"><criterion test_ref="t9" negate="true"/><criterion test_ref="p1"/></criteria>'
    (problem,) = _parse_one(tmp_path, negated, tests, states)
    assert isinstance(problem, ParseProblem) and problem.record_id == "ELSA-2026-0001"


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


def test_fetch_bz2_then_304_and_a_cut_body(upstream: Upstream, tmp_path: Path) -> None:
    body = bz2.compress((DATA / "com.oracle.elsa-2019.xml").read_bytes())
    upstream.resources["/oval/all.xml.bz2"] = Resource(body, etag='"o1"')
    feed = OracleFeed(url=upstream.url("/oval/all.xml.bz2"), policy=DownloadPolicy(timeout=10))
    assert isinstance(feed, Feed)
    with httpx.Client() as http:
        fetched = feed.fetch(None, http)
        assert isinstance(fetched, Fetched)
        with fetched:
            assert [a.id for a in feed.parse(fetched) if isinstance(a, Advisory)] == [
                "ELSA-2019-4821"
            ]
        assert feed.fetch(fetched.fingerprint, http) is UNCHANGED
        assert upstream.log[-1][1].get("If-None-Match") == '"o1"'
        upstream.resources["/oval/all.xml.bz2"] = Resource(body[: len(body) // 2], etag='"o2"')
        with pytest.raises(IncompleteDownload):
            feed.fetch(None, http)


def test_registered_and_importable(tmp_path: Path) -> None:
    feeds = {f.name: f for f in default_feeds()}
    assert isinstance(feeds["oracle"], OracleFeed) and feeds["oracle"].url == URL
    packed = tmp_path / "com.oracle.elsa-2019.xml.bz2"
    packed.write_bytes(bz2.compress((DATA / "com.oracle.elsa-2019.xml").read_bytes()))
    assert sniff(packed) is Format.ORACLE
    assert sniff(DATA / "com.oracle.elsa-2026.xml") is Format.ORACLE
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    vdb = VulnDb(SqlStore(db), ControlledClock())
    report = import_paths(vdb, [packed, DATA / "com.oracle.elsa-2026.xml"])
    assert [(r.source, sorted(r.added)) for r in report.results] == [
        ("oracle", ["ELSA-2019-4821", "ELSA-2026-50294"])
    ]
    assert report.problems == []
