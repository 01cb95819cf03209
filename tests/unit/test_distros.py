"""The supported-distributions table."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from dockwatch import distros
from dockwatch.distros import Supported, Unsupported, UnsupportedReason
from dockwatch.model.distro import Distro

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("os_id", "version_id", "codename", "ecosystem"),
    [
        ("debian", "12", "bookworm", "Debian:12"),
        ("debian", "13", None, "Debian:13"),
        ("debian", None, "trixie", "Debian:13"),  # testing images may lack VERSION_ID
        ("debian", "10", "buster", "Debian:10"),  # Freexian's Extended LTS, to 2029-06-30
        ("debian", "9", None, "Debian:9"),  # Extended LTS to 2027-06-30
        ("alpine", "3.22.2", None, "Alpine:v3.22"),
        ("alpine", "3.23.0", None, "Alpine:v3.23"),
        ("almalinux", "9.4", None, "AlmaLinux:9"),
        ("almalinux", "8.10", None, "AlmaLinux:8"),
        ("almalinux", "10.0", None, "AlmaLinux:10"),
        ("rocky", "9.3", None, "Rocky Linux:9"),
        ("Debian", "12", None, "Debian:12"),
        ("ubuntu", "22.04", "jammy", "Ubuntu:22.04:LTS"),
        ("ubuntu", "24.04", None, "Ubuntu:24.04:LTS"),
        ("ubuntu", "26.04", "resolute", "Ubuntu:26.04:LTS"),
        ("ubuntu", "18.04", None, "Ubuntu:18.04:LTS"),  # Ubuntu Pro (ESM) to 2028, Legacy 2030
        ("ubuntu", "16.04", None, "Ubuntu:16.04:LTS"),
        ("ubuntu", None, "noble", "Ubuntu:24.04:LTS"),
        ("wolfi", "20230201", None, "Wolfi"),  # rolling: any build date
        ("wolfi", None, None, "Wolfi"),
        ("chainguard", "20230214", None, "Chainguard"),
        ("photon", "5.0", None, "Photon OS:5.0"),  # os-release VERSION_ID=5.0
    ],
)
def test_supported(
    os_id: str, version_id: str | None, codename: str | None, ecosystem: str
) -> None:
    got = distros.lookup(os_id, version_id, today=TODAY, codename=codename)
    assert isinstance(got, Supported) and got.release.ecosystem == ecosystem


@pytest.mark.parametrize(
    ("os_id", "version_id", "reason"),
    [
        ("debian", "11", UnsupportedReason.END_OF_LIFE),  # LTS ended 2026-08-31
        ("alpine", "3.19.1", UnsupportedReason.END_OF_LIFE),
        ("alpine", "3.21.3", UnsupportedReason.END_OF_LIFE),  # ended 2026-11-01
        ("alpine", "3.12.0", UnsupportedReason.UNKNOWN_RELEASE),
        ("debian", "8", UnsupportedReason.END_OF_LIFE),  # Extended LTS ended 2025-06-30
        ("debian", "7", UnsupportedReason.UNKNOWN_RELEASE),
        ("debian", None, UnsupportedReason.UNKNOWN_RELEASE),
        ("almalinux", "", UnsupportedReason.UNKNOWN_RELEASE),
        ("gentoo", "2.15", UnsupportedReason.NO_ADVISORY_SOURCE),
        ("ubuntu", "14.04", UnsupportedReason.END_OF_LIFE),  # Legacy add-on ended 2026-04
        ("ubuntu", "25.04", UnsupportedReason.END_OF_LIFE),  # interim: 9 months, to 2026-01-15
        ("ubuntu", "25.10", UnsupportedReason.END_OF_LIFE),
        ("ubuntu", "21.04", UnsupportedReason.UNKNOWN_RELEASE),
        ("plan9", "4", UnsupportedReason.UNKNOWN_DISTRO),
        ("photon", "3.0", UnsupportedReason.END_OF_LIFE),  # ended March 2024
        ("photon", "4.0", UnsupportedReason.END_OF_LIFE),  # planned for March 2026
        ("photon", "2.0", UnsupportedReason.UNKNOWN_RELEASE),
    ],
)
def test_unsupported(os_id: str, version_id: str | None, reason: UnsupportedReason) -> None:
    got = distros.lookup(os_id, version_id, today=TODAY)
    assert isinstance(got, Unsupported) and got.reason is reason and got.detail


def test_end_of_life_depends_on_the_date() -> None:
    assert isinstance(distros.lookup("debian", "11", today=date(2026, 8, 31)), Supported)
    late = distros.lookup("debian", "11", today=date(2026, 9, 1))
    assert isinstance(late, Unsupported) and late.release is not None
    assert late.release.title == "Debian 11 (bullseye)"
    assert isinstance(distros.lookup("alpine", "3.19.0", today=date(2025, 1, 1)), Supported)


def test_lookup_distro() -> None:
    got = distros.lookup_distro(Distro("debian", "12", "bookworm"), today=TODAY)
    assert isinstance(got, Supported) and got.release.feed_release == "bookworm"


def test_table_is_consistent() -> None:
    ecosystems = [r.ecosystem for r in distros.RELEASES]
    assert len(set(ecosystems)) == len(ecosystems)
    for r in distros.RELEASES:
        assert distros.by_ecosystem(r.ecosystem) is r
        assert distros.by_feed_release(r.os_id, r.feed_release) is r
        assert distros.lookup(r.os_id, r.version, today=date(2000, 1, 1)) == Supported(r)
    assert distros.by_feed_release("debian", "sid") is None
    edge = distros.lookup("alpine", "3.24.0_alpha20251224", today=date(2026, 11, 26))
    assert isinstance(edge, Supported) and edge.release.ecosystem == "Alpine:edge"
    assert distros.by_feed_release("alpine", "edge") is edge.release  # secdb's `edge` files


ALMA = (
    Path(__file__).resolve().parents[2].parent / "shared/vulndata/almalinux-osv-database/advisories"
)


@pytest.mark.skipif(not ALMA.is_dir(), reason="../shared/vulndata is absent")
def test_alma_ecosystems_in_the_data_are_in_the_table() -> None:
    seen: set[str] = set()
    for folder in ALMA.iterdir():
        first = next(folder.glob("*.json"))
        seen.update(a["package"]["ecosystem"] for a in json.loads(first.read_bytes())["affected"])
    assert seen and all(distros.by_ecosystem(e) is not None for e in seen)


def test_a_distribution_with_a_feed_is_never_listed_as_without_one() -> None:
    fed = {release.os_id for release in distros.RELEASES}
    assert not fed & distros.KNOWN_WITHOUT_FEED


@pytest.mark.parametrize(
    ("os_id", "version_id", "today", "ecosystem"),
    [
        ("ol", "7.9", date(2026, 12, 5), "Oracle Linux:7"),  # Extended Support to 2028-06
        ("ol", "8.10", date(2026, 12, 5), "Oracle Linux:8"),
        ("ol", "9.4", date(2026, 12, 5), "Oracle Linux:9"),
        ("mariner", "2.0", date(2025, 7, 23), "Azure Linux:2.0"),
        ("azurelinux", "3.0", date(2026, 12, 5), "Azure Linux:3.0"),
    ],
)
def test_oracle_and_azure_linux_releases(
    os_id: str, version_id: str, today: date, ecosystem: str
) -> None:
    found = distros.lookup(os_id, version_id, today=today)
    assert isinstance(found, distros.Supported)
    assert found.release.ecosystem == ecosystem
    assert found.release.by_binary is (os_id == "ol")  # ELSAs name binary rpms


@pytest.mark.parametrize(
    ("os_id", "version_id", "reason"),
    [
        ("ol", "6.10", distros.UnsupportedReason.UNKNOWN_RELEASE),
        ("mariner", "1.0", distros.UnsupportedReason.END_OF_LIFE),  # ended 2023-07-31
        ("mariner", "2.0", distros.UnsupportedReason.END_OF_LIFE),  # ended 2025-07-23
    ],
)
def test_oracle_and_mariner_releases_outside_support(
    os_id: str, version_id: str, reason: distros.UnsupportedReason
) -> None:
    found = distros.lookup(os_id, version_id, today=date(2026, 12, 5))
    assert isinstance(found, distros.Unsupported) and found.reason is reason


@pytest.mark.parametrize(
    ("os_id", "version_id", "ecosystem"),
    [
        ("sles", "15.5", "SUSE:Linux Enterprise 15 SP5"),  # SLE BCI 15 SP5 and SLES 15 SP5
        ("sles", "15.7", "SUSE:Linux Enterprise 15 SP7"),
        ("sles", "12.5", "SUSE:Linux Enterprise 12 SP5"),  # LTSS to 2027-10-31
        ("opensuse-tumbleweed", "20240321", "openSUSE:Tumbleweed"),  # rolling: any snapshot
    ],
)
def test_suse_releases(os_id: str, version_id: str, ecosystem: str) -> None:
    got = distros.lookup(os_id, version_id, today=date(2026, 12, 5))
    assert isinstance(got, Supported) and got.release.ecosystem == ecosystem


def test_suse_release_keys_and_end_of_life() -> None:
    ga = distros.lookup("sles", "15", today=date(2020, 1, 1))  # SLES 15 GA: VERSION_ID="15"
    assert isinstance(ga, Supported) and ga.release.ecosystem == "SUSE:Linux Enterprise 15"
    leap = distros.lookup("opensuse-leap", "15.5", today=date(2024, 12, 31))
    assert isinstance(leap, Supported) and leap.release.ecosystem == "openSUSE:Leap 15.5"
    ended = distros.lookup("opensuse-leap", "15.5", today=date(2025, 1, 1))
    assert isinstance(ended, Unsupported) and ended.reason is UnsupportedReason.END_OF_LIFE
    assert ended.detail == "openSUSE Leap 15.5 reached end of life on 2024-12-31"
    sp4 = distros.lookup("sles", "15.4", today=date(2027, 1, 1))  # LTSS ended 2026-12-31
    assert isinstance(sp4, Unsupported) and sp4.reason is UnsupportedReason.END_OF_LIFE
    unknown = distros.lookup("sles", "11.4", today=date(2026, 12, 5))
    assert isinstance(unknown, Unsupported) and unknown.reason is UnsupportedReason.UNKNOWN_RELEASE
    assert distros.matched_by_binary("SUSE:Linux Enterprise 15 SP5")
    assert distros.matched_by_binary("openSUSE:Tumbleweed")
    assert not distros.matched_by_binary("Debian:12")


def test_fedora_releases_and_end_of_life() -> None:
    got = distros.lookup("fedora", "43", today=date(2026, 12, 5))
    assert isinstance(got, Supported) and got.release.ecosystem == "Fedora:43"
    assert got.release.feed_release == "F43"  # Bodhi's release name
    ended = distros.lookup("fedora", "41", today=date(2026, 12, 5))
    assert isinstance(ended, Unsupported) and ended.reason is UnsupportedReason.END_OF_LIFE
    assert ended.detail == "Fedora 41 reached end of life on 2025-12-15"
    assert not distros.matched_by_binary("Fedora:43")  # Bodhi lists source builds
