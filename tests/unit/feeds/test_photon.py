"""Photon OS CVE metadata: the published rows, the release of a file, statuses, fetch."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockwatch.clock import ControlledClock
from dockwatch.feeds import UNCHANGED, Feed, Fetched, default_feeds
from dockwatch.feeds.detect import Format, sniff
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.feeds.feed import FeedFormatError, ParseProblem
from dockwatch.feeds.photon import PhotonFeed, parse_files
from dockwatch.model.advisory import Advisory, AffectedStatus
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.unit.feeds.upstream import Resource, Upstream, serve

DATA = Path(__file__).parents[2] / "data" / "feeds" / "photon"
PH4 = DATA / "cve_data_photon4.0.json"
PH3 = DATA / "cve_data_photon3.0.json"


def _parse(*files: tuple[Path, str]) -> tuple[dict[str, Advisory], list[ParseProblem]]:
    items = list(parse_files(list(files)))
    advs: dict[str, Advisory] = {a.id: a for a in items if isinstance(a, Advisory)}
    return advs, [p for p in items if isinstance(p, ParseProblem)]


def test_real_photon_4_rows() -> None:
    advs, problems = _parse((PH4, ""))
    assert problems == []
    rows = json.loads(PH4.read_text())
    assert set(advs) == {r["cve_id"] for r in rows}
    (curl,) = advs["CVE-2023-38545"].affected
    assert (curl.ecosystem, curl.name, curl.fixed_versions) == (
        "Photon OS:4.0",
        "curl",
        ("7.88.1-4.ph4",),
    )
    assert curl.status is AffectedStatus.AFFECTED
    assert {a.name for a in advs["CVE-2023-38546"].affected} == {"curl", "curl-libs"}
    by_name = {a.name: a for a in advs["CVE-2023-44487"].affected}
    assert by_name["httpd"].status is AffectedStatus.NOT_AFFECTED
    assert by_name["nghttp2"].fixed_versions == ("1.57.0-1.ph4",)
    # `Fixed` without a version: nothing to compare against, so undetermined, never dropped
    (py,) = advs["CVE-2023-50447"].affected
    assert py.status is AffectedStatus.UNDETERMINED and py.fixed_versions == ()
    assert "Photon OS 4.0 python3: Fixed" in advs["CVE-2023-50447"].details
    (sev,) = advs["CVE-2023-38545"].severities
    assert (sev.base_score, sev.rating, sev.source) == (9.8, "CRITICAL", "photon")
    assert advs["CVE-2023-50447"].severities == ()  # cve_score null


def test_older_rows_without_status_and_two_releases_in_one_advisory(tmp_path: Path) -> None:
    advs, problems = _parse((PH3, ""), (PH4, ""))
    assert problems == []
    (tomcat,) = advs["CVE-2019-10072"].affected
    assert (tomcat.ecosystem, tomcat.fixed_versions) == ("Photon OS:3.0", ("8.5.40-2.ph3",))
    (unk,) = advs["UNK-1"].affected
    assert unk.status is AffectedStatus.NOT_AFFECTED
    # the same CVE published for two releases is one advisory with an entry per release
    other = tmp_path / "cve_data_photon3.0.json"
    other.write_text(json.dumps([json.loads(PH4.read_text())[0] | {"res_ver": "7.86.0-5.ph3"}]))
    advs, _ = _parse((other, ""), (PH4, ""))
    got = {(a.ecosystem, a.fixed_versions) for a in advs["CVE-2023-38545"].affected}
    assert got == {("Photon OS:3.0", ("7.86.0-5.ph3",)), ("Photon OS:4.0", ("7.88.1-4.ph4",))}


def test_release_from_label_name_or_version_suffix(tmp_path: Path) -> None:
    renamed = tmp_path / "rows.json"
    shutil.copy(PH4, renamed)
    for files in ([(renamed, "4.0")], [(renamed, "")]):  # the feed's label; the `.ph4` suffix
        advs, _ = _parse(*files)
        assert {a.ecosystem for adv in advs.values() for a in adv.affected} == {"Photon OS:4.0"}
    unknowable = tmp_path / "na.json"
    unknowable.write_text('[{"cve_id": "CVE-1", "pkg": "x", "res_ver": "NA", "aff_ver": "NA"}]')
    with pytest.raises(FeedFormatError, match="which Photon release"):
        _parse((unknowable, ""))


def test_a_release_outside_the_table_is_reported_not_matched(tmp_path: Path) -> None:
    old = tmp_path / "cve_data_photon2.0.json"
    old.write_text(PH3.read_text())
    advs, problems = _parse((old, ""))
    assert advs == {}
    assert len(problems) == 1 and "2.0 is not a supported release" in problems[0].reason


def test_open_flaws_keep_the_vendor_word_and_no_fix(tmp_path: Path) -> None:
    """Statuses for an open flaw (not present in the real files above): affected without a fix;
    "won't fix" is WONT_FIX; the word itself is in the details; an unknown word is a reported
    problem for its row only."""
    rows = [
        {"cve_id": "CVE-2024-1", "pkg": "openssl", "cve_score": 5.9, "aff_ver": "NA",
         "res_ver": "NA", "status": "Won't Fix"},
        {"cve_id": "CVE-2024-2", "pkg": "openssl", "cve_score": 5.9, "aff_ver": "NA",
         "res_ver": "NA", "status": "Affected"},
        {"cve_id": "CVE-2024-3", "pkg": "openssl", "cve_score": 5.9, "aff_ver": "NA",
         "res_ver": "NA", "status": "Postponed?"},
    ]  # fmt: skip
    path = tmp_path / "cve_data_photon5.0.json"
    path.write_text(json.dumps(rows))
    advs, problems = _parse((path, ""))
    (wont,) = advs["CVE-2024-1"].affected
    assert wont.status is AffectedStatus.WONT_FIX and wont.fixed_versions == ()
    assert advs["CVE-2024-1"].details == "Photon OS 5.0 openssl: Won't Fix"
    (open_,) = advs["CVE-2024-2"].affected
    assert open_.status is AffectedStatus.AFFECTED and open_.fixed_versions == ()
    assert "CVE-2024-3" not in advs
    assert [p.where.endswith("[2]") for p in problems] == [True]


def test_sniffed_as_photon(tmp_path: Path) -> None:
    assert sniff(PH4) is Format.PHOTON and sniff(PH3) is Format.PHOTON
    other = tmp_path / "list.json"
    other.write_text('[{"name": "x", "version": "1"}]')
    assert sniff(other) is None


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


def test_fetch_every_release_then_304(upstream: Upstream) -> None:
    base = "/photon/photon_cve_metadata"
    upstream.resources[f"{base}/cve_data_photon3.0.json"] = Resource(PH3.read_bytes(), etag='"a"')
    upstream.resources[f"{base}/cve_data_photon4.0.json"] = Resource(PH4.read_bytes(), etag='"b"')
    feed = PhotonFeed(
        base_url=upstream.url(base), releases=("3.0", "4.0"), policy=DownloadPolicy(timeout=10)
    )
    assert isinstance(feed, Feed)
    with httpx.Client() as http:
        fetched = feed.fetch(None, http)
        assert isinstance(fetched, Fetched)
        with fetched:
            advs = [x for x in feed.parse(fetched) if isinstance(x, Advisory)]
        ecosystems = {a.ecosystem for adv in advs for a in adv.affected}
        assert ecosystems == {"Photon OS:3.0", "Photon OS:4.0"}
        assert feed.fetch(fetched.fingerprint, http) is UNCHANGED
    sent = {h.get("If-None-Match") for _path, h in upstream.log[-2:]}
    assert sent == {'"a"', '"b"'}


def test_registered_with_the_real_upstream() -> None:
    feed = {f.name: f for f in default_feeds()}["photon"]
    assert isinstance(feed, PhotonFeed)
    assert feed.releases == ("3.0", "4.0", "5.0")
    assert feed.requests()[2].url == (
        "https://packages.broadcom.com/photon/photon_cve_metadata/cve_data_photon5.0.json"
    )


def test_db_import_of_the_files_for_air_gapped_sites(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    report = import_paths(VulnDb(SqlStore(db), ControlledClock()), [DATA])
    (result,) = [r for r in report.results if r.source == "photon"]
    expected = {r["cve_id"] for p in (PH3, PH4) for r in json.loads(p.read_text())}
    assert sorted(result.added) == sorted(expected)
    assert ("Photon OS:4.0", "curl") in result.package_keys
    assert report.problems == [] and report.skipped_files == [str(DATA / "README.md")]
