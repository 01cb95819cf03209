"""Red Hat Enterprise Linux, UBI and CentOS in the distributions table, detected from their
real release files."""

from __future__ import annotations

from datetime import date

import pytest

from dockwatch import distros
from dockwatch.catalog.distro import detect
from dockwatch.distros import Supported, Unsupported, UnsupportedReason
from dockwatch.model.catalog import FileEntry

TODAY = date(2026, 12, 5)

UBI9 = b"""NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"
ANSI_COLOR="0;31"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
HOME_URL="https://www.redhat.com/"
DOCUMENTATION_URL="https://access.redhat.com/documentation/en-us/red_hat_enterprise_linux/9"
BUG_REPORT_URL="https://bugzilla.redhat.com/"

REDHAT_BUGZILLA_PRODUCT="Red Hat Enterprise Linux 9"
REDHAT_BUGZILLA_PRODUCT_VERSION=9.4
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.4"
"""
CENTOS7 = b"""NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:centos:centos:7"
HOME_URL="https://www.centos.org/"
BUG_REPORT_URL="https://bugs.centos.org/"
"""
STREAM9 = b"""NAME="CentOS Stream"
VERSION="9"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="9"
PLATFORM_ID="platform:el9"
PRETTY_NAME="CentOS Stream 9"
ANSI_COLOR="0;31"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:centos:centos:9"
HOME_URL="https://centos.org/"
BUG_REPORT_URL="https://issues.redhat.com/"
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux 9"
REDHAT_SUPPORT_PRODUCT_VERSION="CentOS Stream"
"""


def _files(path: str, data: bytes) -> dict[str, FileEntry]:
    return {path: FileEntry(path, len(data), 0o644, data)}


@pytest.mark.parametrize(
    ("version_id", "ecosystem"),
    [("7.9", "Red Hat:7"), ("8.10", "Red Hat:8"), ("9.4", "Red Hat:9"), ("10.0", "Red Hat:10")],
)
def test_rhel_releases(version_id: str, ecosystem: str) -> None:
    today = date(2024, 6, 30) if version_id == "7.9" else TODAY
    got = distros.lookup("rhel", version_id, today=today)
    assert isinstance(got, Supported) and got.release.ecosystem == ecosystem


@pytest.mark.parametrize(
    ("os_id", "version_id", "reason", "detail"),
    [
        ("rhel", "7.9", UnsupportedReason.END_OF_LIFE, "reached end of life on 2024-06-30"),
        ("rhel", "6.10", UnsupportedReason.UNKNOWN_RELEASE, "not a supported release"),
        ("centos", "7", UnsupportedReason.END_OF_LIFE, "CentOS Linux 7 reached end of life"),
        ("centos", "8", UnsupportedReason.END_OF_LIFE, "CentOS Stream 8 reached end of life"),
        ("centos", "9", UnsupportedReason.NO_ADVISORY_SOURCE, "Red Hat publishes none"),
        ("centos", "10", UnsupportedReason.NO_ADVISORY_SOURCE, "Red Hat publishes none"),
    ],
)
def test_unsupported(os_id: str, version_id: str, reason: UnsupportedReason, detail: str) -> None:
    got = distros.lookup(os_id, version_id, today=TODAY)
    assert isinstance(got, Unsupported) and got.reason is reason and detail in got.detail


def test_end_of_life_dates() -> None:
    assert isinstance(distros.lookup("rhel", "8.8", today=date(2029, 5, 31)), Supported)
    assert isinstance(distros.lookup("rhel", "8.8", today=date(2029, 6, 1)), Unsupported)
    assert isinstance(distros.lookup("rhel", "9.4", today=date(2032, 6, 1)), Unsupported)
    assert isinstance(distros.lookup("rhel", "10.0", today=date(2035, 5, 31)), Supported)


def test_detected_from_real_release_files() -> None:
    ubi = detect(_files("/usr/lib/os-release", UBI9))
    assert ubi is not None and (ubi.id, ubi.version_id) == ("rhel", "9.4")
    for text, want in ((CENTOS7, UnsupportedReason.END_OF_LIFE), (STREAM9, None)):
        found = detect(_files("/etc/os-release", text))
        assert found is not None and found.id == "centos"
        got = distros.lookup_distro(found, today=TODAY)
        assert isinstance(got, Unsupported)
        assert got.reason is (want or UnsupportedReason.NO_ADVISORY_SOURCE)
    old = detect(_files("/etc/redhat-release", b"Red Hat Enterprise Linux release 8.8 (Ootpa)\n"))
    assert old is not None and (old.id, old.version_id) == ("rhel", "8.8")
    stream = detect(_files("/etc/redhat-release", b"CentOS Stream release 9\n"))
    assert stream is not None and (stream.id, stream.version_id) == ("centos", "9")
