"""OS detection: os-release (through its usual symlink), fallbacks, none."""

from __future__ import annotations

from dockwatch.catalog.cataloger import FileEntry
from dockwatch.catalog.distro import detect


def f(path: str, text: str | None = None, link: str | None = None) -> tuple[str, FileEntry]:
    return path, FileEntry(path, 0, 0o644, text.encode() if text is not None else None, link)


def test_os_release_through_symlink() -> None:
    files = dict(
        [
            f("/etc/os-release", link="../usr/lib/os-release"),
            f(
                "/usr/lib/os-release",
                'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
            ),
        ]
    )
    d = detect(files)
    assert d is not None and (d.id, d.version_id, d.codename) == ("debian", "12", "bookworm")


def test_fallbacks() -> None:
    assert detect(dict([f("/etc/alpine-release", "3.19.1\n")])).version_id == "3.19.1"  # type: ignore[union-attr]
    d = detect(dict([f("/etc/debian_version", "12.4\n")]))
    assert d is not None and (d.id, d.version_id) == ("debian", "12")
    r = detect(dict([f("/etc/redhat-release", "Rocky Linux release 9.3 (Blue Onyx)\n")]))
    assert r is not None and (r.id, r.version_id) == ("rocky", "9.3")


def test_none_and_loops() -> None:
    assert detect({}) is None
    assert detect(dict([f("/etc/os-release", link="/etc/os-release")])) is None


def test_ubuntu_os_release_and_lsb_release() -> None:
    from tests.builders import os_release as osr

    d = detect(
        dict(
            [
                f("/etc/os-release", link="../usr/lib/os-release"),
                f("/usr/lib/os-release", osr.UBUNTU_2204),
                f("/etc/debian_version", osr.UBUNTU_DEBIAN_VERSION),
            ]
        )
    )
    assert d is not None and (d.id, d.version_id, d.codename) == ("ubuntu", "22.04", "jammy")
    # no os-release: lsb-release names Ubuntu, before debian_version could say "bookworm/sid"
    old = detect(
        dict(
            [
                f("/etc/lsb-release", osr.UBUNTU_1404_LSB),
                f("/etc/debian_version", "jessie/sid\n"),
            ]
        )
    )
    assert old is not None and (old.id, old.version_id, old.codename) == (
        "ubuntu",
        "14.04",
        "trusty",
    )


def test_wolfi_os_release() -> None:
    from tests.builders import os_release as osr

    d = detect(dict([f("/etc/os-release", osr.WOLFI)]))
    assert d is not None and (d.id, d.version_id) == ("wolfi", "20230201")


def test_amazon_linux_system_release_without_os_release() -> None:
    for text, version in (
        ("Amazon Linux release 2023.6.20241010 (Amazon Linux)\n", "2023.6.20241010"),
        ("Amazon Linux release 2 (Karoo)\n", "2"),
        ("Amazon Linux AMI release 2018.03\n", "2018.03"),
    ):
        d = detect(dict([f("/etc/system-release", text)]))
        assert d is not None and (d.id, d.version_id) == ("amzn", version)


def test_suse_os_release() -> None:
    from datetime import date

    from dockwatch.distros import Supported, lookup_distro
    from tests.builders import os_release as osr

    for text, ident, version, ecosystem in (
        (osr.SLES_15_SP5, "sles", "15.5", "SUSE:Linux Enterprise 15 SP5"),
        (osr.SLES_12_SP5, "sles", "12.5", "SUSE:Linux Enterprise 12 SP5"),
        (osr.TUMBLEWEED, "opensuse-tumbleweed", "20240321", "openSUSE:Tumbleweed"),
    ):
        d = detect(dict([f("/etc/os-release", text)]))
        assert d is not None and (d.id, d.version_id) == (ident, version)
        support = lookup_distro(d, today=date(2026, 12, 5))
        assert isinstance(support, Supported) and support.release.ecosystem == ecosystem
    leap = detect(dict([f("/etc/os-release", osr.LEAP_15_0)]))
    assert leap is not None and (leap.id, leap.version_id) == ("opensuse-leap", "15.0")
    assert leap.id_like == ("suse", "opensuse")


def test_photon_os_release_and_photon_release() -> None:
    from tests.builders import os_release as osr

    d = detect(
        dict(
            [
                f("/etc/os-release", link="../usr/lib/os-release"),
                f("/usr/lib/os-release", osr.PHOTON_4),
            ]
        )
    )
    assert d is not None and (d.id, d.version_id) == ("photon", "4.0")
    # no os-release: photon-release names the release, before lsb-release's "VMware Photon OS"
    lsb = 'DISTRIB_ID="VMware Photon OS"\nDISTRIB_RELEASE="5.0"\nDISTRIB_CODENAME=Photon\n'
    old = detect(
        dict(
            [
                f("/etc/photon-release", "VMware Photon OS 5.0\nPHOTON_BUILD_NUMBER=dd81a05\n"),
                f("/etc/lsb-release", lsb),
            ]
        )
    )
    assert old is not None and (old.id, old.version_id) == ("photon", "5.0")
