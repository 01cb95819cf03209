"""Amazon Linux and Bottlerocket image contents built in code: release files as the images ship
them, and rpm databases in Amazon Linux's own formats, written by rpm itself.

Amazon Linux 2023 keeps rpm's sqlite database (`/var/lib/rpm/rpmdb.sqlite`, rpm 4.16+), Amazon
Linux 2 and the Amazon Linux AMI the Berkeley DB hash `/var/lib/rpm/Packages` (rpm 4.11). Both are
written from real headers: `rpmbuild` builds a noarch package per (name, epoch, version, release)
and `rpm --justdb` installs them into a sqlite database; the BDB hash is then loaded from those
headers with `db5.3_load` (`tests/builders/rpmdb.py`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from tests.builders import rpmdb

AL2023_OS_RELEASE = """\
NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023.6.20241010"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"
HOME_URL="https://aws.amazon.com/linux/amazon-linux-2023/"
DOCUMENTATION_URL="https://docs.aws.amazon.com/linux/"
SUPPORT_URL="https://aws.amazon.com/premiumsupport/"
BUG_REPORT_URL="https://github.com/amazonlinux/amazon-linux-2023"
VENDOR_NAME="AWS"
VENDOR_URL="https://aws.amazon.com/"
SUPPORT_END="2029-06-30"
"""
"""`/etc/os-release` of the `amazonlinux:2023` image (system-release 2023.6.20241010)."""

AL2_OS_RELEASE = """\
NAME="Amazon Linux"
VERSION="2"
ID="amzn"
ID_LIKE="centos rhel fedora"
VERSION_ID="2"
PRETTY_NAME="Amazon Linux 2"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2"
HOME_URL="https://amazonlinux.com/"
SUPPORT_END="2026-06-30"
"""
"""`/etc/os-release` of the `amazonlinux:2` image."""

AL1_SYSTEM_RELEASE = "Amazon Linux AMI release 2018.03\n"
"""`/etc/system-release` of the Amazon Linux AMI (`amazonlinux:2018.03`)."""

BOTTLEROCKET_OS_RELEASE = """\
NAME=Bottlerocket
ID=bottlerocket
VERSION="1.19.2 (aws-k8s-1.29)"
PRETTY_NAME="Bottlerocket OS 1.19.2 (aws-k8s-1.29)"
VARIANT_ID=aws-k8s-1.29
VERSION_ID=1.19.2
BUILD_ID=29cc92cc
HOME_URL="https://github.com/bottlerocket-os/bottlerocket"
SUPPORT_URL="https://github.com/bottlerocket-os/bottlerocket/discussions"
BUG_REPORT_URL="https://github.com/bottlerocket-os/bottlerocket/issues"
DOCUMENTATION_URL="https://bottlerocket.dev"
"""
"""`/etc/os-release` of a Bottlerocket 1.19.2 host (aws-k8s-1.29 variant)."""

Rpm = tuple[str, int | None, str, str]
"""(name, epoch or None, version, release)."""


def rpm_tools_available() -> bool:
    """rpmbuild and rpm (apt: rpm) and db5.3_load (apt: db5.3-util) are installed."""
    return all(shutil.which(t) for t in ("rpmbuild", "rpm", "db5.3_load"))


def rpmdb_sqlite(packages: Sequence[Rpm], workdir: Path) -> bytes:
    """`rpmdb.sqlite` holding `packages`, written by rpm (`tests/builders/rpmdb.py`)."""
    rpms = [
        rpmdb.Rpm(name, version, release, epoch=epoch) for name, epoch, version, release in packages
    ]
    return (rpmdb.build_rpmdb(workdir, rpms) / "rpmdb.sqlite").read_bytes()


def rpmdb_bdb(sqlite_db: bytes, workdir: Path) -> bytes:
    """The same headers as a Berkeley DB hash `Packages` (Amazon Linux 2's format)."""
    held = workdir / "sqlite"
    held.mkdir(parents=True, exist_ok=True)
    (held / "rpmdb.sqlite").write_bytes(sqlite_db)
    return rpmdb.bdb_packages(held, workdir / "Packages")


def bottlerocket_inventory(packages: Sequence[Rpm], arch: str = "x86_64") -> bytes:
    """`/usr/share/bottlerocket/application-inventory.json` listing `packages`, with the fields
    Bottlerocket writes for each (`Name`, `Publisher`, `Version`, `Release`, `Epoch`,
    `InstalledTime`, `ApplicationType`, `Architecture`, `Url`, `Summary`)."""
    content = [
        {
            "Name": name,
            "Publisher": "Bottlerocket",
            "Version": version,
            "Release": release,
            "Epoch": str(epoch or 0),
            "InstalledTime": "2026-03-01T00:00:00Z",
            "ApplicationType": "Unspecified",
            "Architecture": arch,
            "Url": "https://github.com/bottlerocket-os/bottlerocket",
            "Summary": f"{name} for Bottlerocket",
        }
        for name, epoch, version, release in packages
    ]
    return json.dumps({"Content": content}, indent=2).encode()
