"""The one table of supported distributions and releases.

Maps an image's os-release (`ID`, `VERSION_ID`, `VERSION_CODENAME`) to the ecosystem its advisories
use (`Debian:12`, `Alpine:v3.19`, `AlmaLinux:9`) and to the release names each feed uses
(`bookworm` in the Debian tracker, `v3.19` in Alpine's secdb). A distribution or release not listed
here, or one past its end of life, is unsupported, and the matcher must say so instead of
returning an empty, clean-looking result.

End-of-life dates are the end of *security* support that our feeds cover: Debian LTS (the tracker
carries DLAs), Freexian's Extended LTS for Debian 8-10 (its tracker carries ELAs;
https://www.freexian.com/lts/extended/), Alpine's per-branch "end of support" for main, the
RHEL-compatible dates for AlmaLinux and Rocky. Sources: https://wiki.debian.org/LTS,
https://alpinelinux.org/releases/, https://wiki.almalinux.org/release-notes/,
https://wiki.rockylinux.org/rocky/version/ (checked 2026-11).
Photon OS: VMware's end-of-support schedule (3.0 ended March 2024, 4.0 planned for March 2026
"subject to change", 5.0 not announced), from the Photon 1.x end-of-support announcement
https://blogs.vmware.com/vsphere/2022/01/photon-1-x-end-of-support-announcement.html and the
Photon 3.0 end-of-support notice in https://github.com/vmware/photon/wiki.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from dockwatch.model.distro import Distro


@dataclass(frozen=True, slots=True)
class Release:
    """One supported (distribution, release)."""

    os_id: str
    """os-release `ID` (`debian`, `alpine`, `almalinux`, `rocky`)."""
    version: str
    """The release as we key it: `12`, `3.19`, `9`."""
    ecosystem: str
    """OSV ecosystem of its advisories: `Debian:12`, `Alpine:v3.19`, `AlmaLinux:9`."""
    feed_release: str
    """The release's name in its distribution feed: `bookworm`, `v3.19`, `9`."""
    codenames: tuple[str, ...]
    """Codenames os-release may give instead of a version (`bookworm`)."""
    eol: date | None
    """Last day of security support, None while no date is announced."""
    title: str
    """For people: `Debian 12 (bookworm)`."""


ROLLING = "rolling"
"""The release key of a rolling distribution."""


class UnsupportedReason(StrEnum):
    """Why a distribution cannot be matched."""

    UNKNOWN_DISTRO = "unknown_distro"
    """Its os-release ID is not in the table."""
    NO_ADVISORY_SOURCE = "no_advisory_source"
    """A distribution we know of but have no advisory feed for (Ubuntu, RHEL, ...)."""
    UNKNOWN_RELEASE = "unknown_release"
    """The distribution is supported but not this release (too old, too new, a rolling branch)."""
    END_OF_LIFE = "end_of_life"
    """The release is past its end of security support on the date asked about."""


@dataclass(frozen=True, slots=True)
class Supported:
    """The distribution can be matched: here is its release."""

    release: Release
    """The table row."""


@dataclass(frozen=True, slots=True)
class Unsupported:
    """The distribution cannot be matched, and why."""

    reason: UnsupportedReason
    """The category."""
    detail: str
    """A sentence for people."""
    release: Release | None = None
    """The table row, for END_OF_LIFE."""


def _debian(version: str, codename: str, eol: date | None) -> Release:
    return Release(
        os_id="debian",
        version=version,
        ecosystem=f"Debian:{version}",
        feed_release=codename,
        codenames=(codename,),
        eol=eol,
        title=f"Debian {version} ({codename})",
    )


def _alpine(version: str, eol: date) -> Release:
    return Release(
        os_id="alpine",
        version=version,
        ecosystem=f"Alpine:v{version}",
        feed_release=f"v{version}",
        codenames=(),
        eol=eol,
        title=f"Alpine Linux {version}",
    )


def _ubuntu(version: str, codename: str, eol: date) -> Release:
    """An Ubuntu release: LTS releases use `Ubuntu:<v>:LTS` in Ubuntu's OSV records (their Pro
    entries are folded into it by the feed), interim releases `Ubuntu:<v>`."""
    lts = version.endswith(".04") and int(version.split(".")[0]) % 2 == 0
    suffix = ":LTS" if lts else ""
    return Release(
        os_id="ubuntu",
        version=version,
        ecosystem=f"Ubuntu:{version}{suffix}",
        feed_release=version,
        codenames=(codename,),
        eol=eol,
        title=f"Ubuntu {version}{' LTS' if lts else ''} ({codename})",
    )


def _rolling(os_id: str, ecosystem: str, title: str) -> Release:
    """A rolling distribution (Wolfi, Chainguard): every VERSION_ID (a build date) is the one
    release, never past end of life."""
    return Release(
        os_id=os_id,
        version=ROLLING,
        ecosystem=ecosystem,
        feed_release=ROLLING,
        codenames=(),
        eol=None,
        title=title,
    )


def _photon(version: str, eol: date | None) -> Release:
    """A Photon OS release: keyed by major (`VERSION_ID=5.0` -> `5`), named `5.0` in Photon's
    CVE metadata (`cve_data_photon5.0.json`) and in the ecosystem."""
    return Release(
        os_id="photon",
        version=version.split(".", 1)[0],
        ecosystem=f"Photon OS:{version}",
        feed_release=version,
        codenames=(),
        eol=eol,
        title=f"Photon OS {version}",
    )


def _el(os_id: str, ecosystem: str, title: str, version: str, eol: date) -> Release:
    return Release(
        os_id=os_id,
        version=version,
        ecosystem=f"{ecosystem}:{version}",
        feed_release=version,
        codenames=(),
        eol=eol,
        title=f"{title} {version}",
    )


RELEASES: tuple[Release, ...] = (
    # Debian 8-10: past Debian LTS, to the end of Freexian's Extended LTS (their advisories come
    # from its tracker, feed `debian-elts`), https://www.freexian.com/lts/extended/
    _debian("8", "jessie", date(2025, 6, 30)),
    _debian("9", "stretch", date(2027, 6, 30)),
    _debian("10", "buster", date(2029, 6, 30)),
    _debian("11", "bullseye", date(2026, 8, 31)),
    _debian("12", "bookworm", date(2028, 6, 30)),
    _debian("13", "trixie", date(2030, 6, 30)),
    _debian("14", "forky", None),  # testing: no end of life announced
    _alpine("3.18", date(2025, 5, 9)),
    _alpine("3.19", date(2025, 11, 1)),
    _alpine("3.20", date(2026, 4, 1)),
    _alpine("3.21", date(2026, 11, 1)),
    _alpine("3.22", date(2027, 5, 1)),
    _alpine("3.23", date(2027, 11, 1)),
    # Ubuntu: LTS releases to the end of Ubuntu Pro with the Legacy add-on (Ubuntu's OSV records
    # carry those fixes), interim releases to their nine months of standard support
    # (https://ubuntu.com/about/release-cycle, checked 2026-12).
    # Alpine edge: the rolling development branch (os-release VERSION_ID `3.24.0_alpha…`),
    # matched against secdb's `edge` files; never past end of life.
    Release("alpine", "edge", "Alpine:edge", "edge", (), None, "Alpine Linux edge"),
    _ubuntu("14.04", "trusty", date(2026, 4, 30)),
    _ubuntu("16.04", "xenial", date(2028, 4, 30)),
    _ubuntu("18.04", "bionic", date(2030, 4, 30)),
    _ubuntu("20.04", "focal", date(2032, 4, 30)),
    _ubuntu("22.04", "jammy", date(2034, 4, 30)),
    _ubuntu("23.10", "mantic", date(2024, 7, 11)),
    _ubuntu("24.04", "noble", date(2036, 4, 30)),
    _ubuntu("24.10", "oracular", date(2025, 7, 10)),
    _ubuntu("25.04", "plucky", date(2026, 1, 15)),
    _ubuntu("25.10", "questing", date(2026, 7, 9)),
    _ubuntu("26.04", "resolute", date(2038, 4, 30)),
    _rolling("wolfi", "Wolfi", "Wolfi"),
    _rolling("chainguard", "Chainguard", "Chainguard"),
    _el("almalinux", "AlmaLinux", "AlmaLinux", "8", date(2029, 3, 1)),
    _el("almalinux", "AlmaLinux", "AlmaLinux", "9", date(2032, 5, 31)),
    _el("almalinux", "AlmaLinux", "AlmaLinux", "10", date(2035, 5, 31)),
    _el("rocky", "Rocky Linux", "Rocky Linux", "8", date(2029, 5, 31)),
    _el("rocky", "Rocky Linux", "Rocky Linux", "9", date(2032, 5, 31)),
    # Photon OS: VMware's end-of-support dates (sources in the module docstring).
    _photon("3.0", date(2024, 3, 1)),
    _photon("4.0", date(2026, 3, 31)),
    _photon("5.0", None),
)
"""Every supported release. Add a row (and nothing else) to support a new one."""

KNOWN_WITHOUT_FEED = frozenset(
    {"rhel", "centos", "fedora", "amzn", "ol", "sles", "opensuse-leap", "mariner",
     "azurelinux", "arch", "gentoo", "distroless"}
)  # fmt: skip
"""os-release IDs we recognise but cannot match yet."""

_BY_KEY = {(r.os_id, r.version): r for r in RELEASES}
_BY_CODENAME = {(r.os_id, c): r for r in RELEASES for c in r.codenames}
_BY_ECOSYSTEM = {r.ecosystem: r for r in RELEASES}
_BY_FEED_RELEASE = {(r.os_id, r.feed_release): r for r in RELEASES} | _BY_CODENAME
_OS_IDS = frozenset(r.os_id for r in RELEASES)
_MAJOR_MINOR = re.compile(r"(\d+)\.(\d+)")
_MAJOR = re.compile(r"(\d+)")
_MAJOR_MINOR_IDS = frozenset({"ubuntu"})
"""Distributions whose releases are `major.minor` (`22.04`), not a major version."""


def by_ecosystem(ecosystem: str) -> Release | None:
    """The release whose advisories use `ecosystem` (`Debian:12`), if listed."""
    return _BY_ECOSYSTEM.get(ecosystem)


def by_feed_release(os_id: str, name: str) -> Release | None:
    """The release a feed names `name` (`bookworm` for debian, `v3.19` for alpine), if listed."""
    return _BY_FEED_RELEASE.get((os_id, name))


def release_key(os_id: str, version_id: str) -> str | None:
    """The table's version key for an os-release VERSION_ID (`3.19.1` -> `3.19`, `9.4` -> `9`).

    Alpine edge reports a pre-release VERSION_ID (`3.21.0_alpha20240807`); that is the rolling
    branch, not the release, so it yields `edge`.
    """
    v = version_id.strip()
    if (os_id, ROLLING) in _BY_KEY:
        return ROLLING
    if os_id in _MAJOR_MINOR_IDS:
        m = _MAJOR_MINOR.match(v)
        return f"{m.group(1)}.{m.group(2).zfill(2)}" if m else None
    if os_id == "alpine":
        if "_" in v or v == "edge":
            return "edge"
        m = _MAJOR_MINOR.match(v)
        return f"{m.group(1)}.{m.group(2)}" if m else None
    m = _MAJOR.match(v)
    return m.group(1) if m else None


def lookup(
    os_id: str,
    version_id: str | None,
    *,
    today: date,
    codename: str | None = None,
) -> Supported | Unsupported:
    """Whether (os-release ID, VERSION_ID or codename) can be matched on `today`."""
    os_id = os_id.strip().lower()
    if os_id not in _OS_IDS:
        if os_id in KNOWN_WITHOUT_FEED:
            return Unsupported(
                UnsupportedReason.NO_ADVISORY_SOURCE, f"no advisory feed for {os_id!r}"
            )
        return Unsupported(UnsupportedReason.UNKNOWN_DISTRO, f"unknown distribution {os_id!r}")
    release: Release | None = None
    if version_id:
        key = release_key(os_id, version_id)
        release = _BY_KEY.get((os_id, key)) if key else None
    if release is None and codename:
        release = _BY_CODENAME.get((os_id, codename.strip().lower()))
    if release is None:
        release = _BY_KEY.get((os_id, ROLLING))
    if release is None:
        shown = version_id or codename or "no version"
        return Unsupported(
            UnsupportedReason.UNKNOWN_RELEASE, f"{os_id} {shown} is not a supported release"
        )
    if release.eol is not None and today > release.eol:
        return Unsupported(
            UnsupportedReason.END_OF_LIFE,
            f"{release.title} reached end of life on {release.eol.isoformat()}",
            release,
        )
    return Supported(release)


def lookup_distro(distro: Distro, *, today: date) -> Supported | Unsupported:
    """`lookup` for a detected Distro."""
    return lookup(distro.id, distro.version_id, today=today, codename=distro.codename)
