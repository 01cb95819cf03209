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

Amazon Linux: the end of maintenance support. Amazon Linux AMI 2018.03 (AL1): 2023-12-31
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/amazon-linux-ami-basics.html); Amazon
Linux 2: 2026-06-30, the date as Amazon extended it (https://aws.amazon.com/amazon-linux-2/faqs/);
Amazon Linux 2023: 2029-06-30, the end of its maintenance phase
(https://docs.aws.amazon.com/linux/al2023/ug/release-cadence.html) (checked 2026-12).
Bottlerocket publishes one advisory stream for every version, like a rolling distribution.
Oracle Linux: the end of Extended Support, under which Oracle keeps publishing ELSAs in its OVAL
(7: premier support ended 2024-12, extended to 2028-06; 8: 2029-07; 9: 2032-06), from Oracle's
Lifetime Support Policy (https://www.oracle.com/a/ocom/docs/elsp-lifetime-069338.pdf). CBL-Mariner
and Azure Linux: Microsoft's announcements (1.0 ended 2023-07-31, 2.0 on 2025-07-23; 3.0 has no
exact date yet), https://learn.microsoft.com/azure/azure-linux/ (checked 2026-12).
Red Hat Enterprise Linux (UBI images are `rhel` too): the end of Maintenance Support from
https://access.redhat.com/support/policy/updates/errata (RHEL 7: 2024-06-30; Extended Life-cycle
Support beyond it is a paid add-on whose fixes the main repositories and UBI do not carry;
8: 2029-05-31; 9: 2032-05-31; 10: 2035-05-31). CentOS Linux 7 ended 2024-06-30 and CentOS
Stream 8 2024-05-31 (https://www.centos.org/centos-linux-eol/,
https://blog.centos.org/2023/04/end-dates-are-coming-for-centos-stream-8-and-centos-linux-7/);
CentOS Stream 9 and 10 are live but Red Hat publishes no advisories for Stream (its VEX and
OVAL data name RHEL products only), so they have no advisory source (checked 2026-12).
SUSE Linux Enterprise Server: the end of LTSS of each service pack (SUSE's OSV records carry the
LTSS updates; general support ends three years earlier): 12 SP5 general support ended 2024-10-31,
LTSS runs to 2027-10-31; 15 SP7, the last of 15, has general support to 2031-07-31 and LTSS to
2034-07-31. openSUSE Leap: each minor release's end of maintenance (15.5 ended 2024-12-31, 15.6
2025-12-31); Tumbleweed is rolling. Sources: https://www.suse.com/lifecycle/,
https://en.opensuse.org/Lifetime (dates as published 2026-12). Fedora: each release's end of
life, four weeks after the release two ahead ships (F40 ended 2025-05-13, F41 2025-12-15);
source: https://docs.fedoraproject.org/en-US/releases/eol/ and the release schedules.
Photon OS: VMware's end-of-support schedule (3.0 ended March 2024, 4.0 planned for March 2026
"subject to change", 5.0 not announced), from the Photon 1.x end-of-support announcement
https://blogs.vmware.com/vsphere/2022/01/photon-1-x-end-of-support-announcement.html and the
Photon 3.0 end-of-support notice in https://github.com/vmware/photon/wiki.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from dockwatch.model.distro import Distro
from dockwatch.value_class import frozen


@frozen
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
    by_binary: bool = False
    """The vendor's advisories name binary packages (Amazon Linux, Bottlerocket, Oracle's ELSA):
    an installed package is looked up by its own name, not its source package's."""


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


@frozen
class Supported:
    """The distribution can be matched: here is its release."""

    release: Release
    """The table row."""


@frozen
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


def _amazon(version: str, eol: date, title: str) -> Release:
    """An Amazon Linux release: ALAS advisories by binary rpm (`feeds/amazon.py`)."""
    return Release("amzn", version, f"Amazon Linux:{version}", version, (), eol, title, True)


def _oracle(version: str, eol: date) -> Release:
    """An Oracle Linux release: ELSA OVAL names binary rpms."""
    return Release(
        "ol", version, f"Oracle Linux:{version}", version, (), eol, f"Oracle Linux {version}", True
    )


def _azure(os_id: str, version: str, eol: date | None, title: str) -> Release:
    """A CBL-Mariner / Azure Linux release (os-release `VERSION_ID=2.0`, keyed by its major)."""
    return Release(os_id, version.split(".")[0], f"Azure Linux:{version}", version, (), eol, title)


def _sle(major: int, sp: int, eol: date) -> Release:
    """A SUSE Linux Enterprise service pack: os-release `ID=sles`, `VERSION_ID=15.5` (GA: `15`),
    keyed `15.5`; every SLE product and module of the service pack is folded into one ecosystem
    (`SUSE:Linux Enterprise 15 SP5`) by feeds/suse.py."""
    name = f"{major} SP{sp}" if sp else str(major)
    return Release(
        os_id="sles",
        version=f"{major}.{sp}",
        ecosystem=f"SUSE:Linux Enterprise {name}",
        feed_release=name,
        codenames=(),
        eol=eol,
        title=f"SUSE Linux Enterprise Server {name}",
        by_binary=True,
    )


def _leap(version: str, eol: date) -> Release:
    """An openSUSE Leap release (`ID=opensuse-leap`, `VERSION_ID=15.5`)."""
    return Release(
        os_id="opensuse-leap",
        version=version,
        ecosystem=f"openSUSE:Leap {version}",
        feed_release=version,
        codenames=(),
        eol=eol,
        title=f"openSUSE Leap {version}",
        by_binary=True,
    )


def _fedora(version: str, eol: date) -> Release:
    """A Fedora release (`ID=fedora`, `VERSION_ID=43`); Bodhi names it `F43`."""
    return Release(
        "fedora", version, f"Fedora:{version}", f"F{version}", (), eol, f"Fedora {version}"
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
    # Amazon Linux: end of maintenance support (AL1, AL2 as extended to 2026-06-30, AL2023);
    # Bottlerocket: every version takes the one advisory stream. Sources in the docstring.
    _amazon("1", date(2023, 12, 31), "Amazon Linux AMI 2018.03"),
    _amazon("2", date(2026, 6, 30), "Amazon Linux 2"),
    _amazon("2023", date(2029, 6, 30), "Amazon Linux 2023"),
    Release("bottlerocket", ROLLING, "Bottlerocket", ROLLING, (), None, "Bottlerocket", True),
    _oracle("7", date(2028, 6, 30)),
    _oracle("8", date(2029, 7, 31)),
    _oracle("9", date(2032, 6, 30)),
    _azure("mariner", "1.0", date(2023, 7, 31), "CBL-Mariner 1.0"),
    _azure("mariner", "2.0", date(2025, 7, 23), "CBL-Mariner 2.0"),
    _azure("azurelinux", "3.0", None, "Azure Linux 3.0"),  # no exact end announced (about 2027)
    # Red Hat Enterprise Linux and UBI: Red Hat's VEX files (feed `redhat`), main stream only
    _el("rhel", "Red Hat", "Red Hat Enterprise Linux", "7", date(2024, 6, 30)),
    _el("rhel", "Red Hat", "Red Hat Enterprise Linux", "8", date(2029, 5, 31)),
    _el("rhel", "Red Hat", "Red Hat Enterprise Linux", "9", date(2032, 5, 31)),
    _el("rhel", "Red Hat", "Red Hat Enterprise Linux", "10", date(2035, 5, 31)),
    # CentOS Linux 7 and CentOS Stream 8 (os-release ID `centos`, VERSION_ID `7` / `8`): past
    # their end of life, so never matched
    Release("centos", "7", "CentOS:7", "7", (), date(2024, 6, 30), "CentOS Linux 7"),
    Release("centos", "8", "CentOS:8", "8", (), date(2024, 5, 31), "CentOS Stream 8"),
    # SUSE Linux Enterprise: to the end of LTSS of each service pack; openSUSE Leap: to the end
    # of maintenance of each minor release; Tumbleweed is rolling.
    _sle(12, 3, date(2022, 6, 30)),
    _sle(12, 4, date(2023, 6, 30)),
    _sle(12, 5, date(2027, 10, 31)),
    _sle(15, 0, date(2022, 12, 31)),
    _sle(15, 1, date(2024, 1, 31)),
    _sle(15, 2, date(2024, 12, 31)),
    _sle(15, 3, date(2025, 12, 31)),
    _sle(15, 4, date(2026, 12, 31)),
    _sle(15, 5, date(2027, 12, 31)),
    _sle(15, 6, date(2028, 12, 31)),
    _sle(15, 7, date(2034, 7, 31)),
    _leap("15.0", date(2019, 12, 3)),
    _leap("15.1", date(2021, 2, 2)),
    _leap("15.2", date(2022, 1, 4)),
    _leap("15.3", date(2022, 12, 31)),
    _leap("15.4", date(2023, 12, 31)),
    _leap("15.5", date(2024, 12, 31)),
    _leap("15.6", date(2025, 12, 31)),
    Release(
        "opensuse-tumbleweed",
        ROLLING,
        "openSUSE:Tumbleweed",
        ROLLING,
        (),
        None,
        "openSUSE Tumbleweed",
        by_binary=True,
    ),
    # Fedora: to each release's end of life (Bodhi's stable security updates).
    _fedora("36", date(2023, 5, 16)),
    _fedora("37", date(2023, 12, 5)),
    _fedora("38", date(2024, 5, 21)),
    _fedora("39", date(2024, 11, 26)),
    _fedora("40", date(2025, 5, 13)),
    _fedora("41", date(2025, 12, 15)),
    _fedora("42", date(2026, 5, 13)),
    _fedora("43", date(2026, 12, 9)),
    _fedora("44", date(2027, 5, 12)),
    # Photon OS: VMware's end-of-support dates (sources in the module docstring).
    _photon("3.0", date(2024, 3, 1)),
    _photon("4.0", date(2026, 3, 31)),
    _photon("5.0", None),
)
"""Every supported release. Add a row (and nothing else) to support a new one."""

KNOWN_WITHOUT_FEED = frozenset(
    {"arch", "gentoo", "distroless"}
)  # fmt: skip
"""os-release IDs we recognise but cannot match yet."""

NO_ADVISORY_SOURCE_RELEASES: dict[tuple[str, str], str] = {
    ("centos", "9"): "CentOS Stream 9 has no advisory source: Red Hat publishes none for Stream",
    ("centos", "10"): "CentOS Stream 10 has no advisory source: Red Hat publishes none for Stream",
}
"""(os-release ID, release key) of live releases of a listed distribution that no feed covers."""
NO_FEED_REASONS: dict[str, str] = {}
"""Why a distribution of KNOWN_WITHOUT_FEED cannot be matched, where there is more to say."""

_BY_KEY = {(r.os_id, r.version): r for r in RELEASES}
_BY_CODENAME = {(r.os_id, c): r for r in RELEASES for c in r.codenames}
_BY_ECOSYSTEM = {r.ecosystem: r for r in RELEASES}
_BY_FEED_RELEASE = {(r.os_id, r.feed_release): r for r in RELEASES} | _BY_CODENAME
_OS_IDS = frozenset(r.os_id for r in RELEASES)
_MAJOR_MINOR = re.compile(r"(\d+)\.(\d+)")
_MAJOR = re.compile(r"(\d+)")
_MAJOR_MINOR_IDS = frozenset({"ubuntu"})
"""Distributions whose releases are `major.minor` (`22.04`), not a major version."""
_MAJOR_DOT_MINOR_IDS = frozenset({"sles", "opensuse-leap"})
"""Distributions keyed `major.minor` without padding, a missing minor being 0 (`15` -> `15.0`)."""
_MAJOR_OPT_MINOR = re.compile(r"(\d+)(?:\.(\d+))?")


def matched_by_binary(ecosystem: str) -> bool:
    """Whether OS packages of an advisory ecosystem are looked up by binary package name."""
    release = by_ecosystem(ecosystem)
    return release is not None and release.by_binary


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
    if os_id in _MAJOR_DOT_MINOR_IDS:
        m = _MAJOR_OPT_MINOR.match(v)
        return f"{m.group(1)}.{int(m.group(2) or 0)}" if m else None
    if os_id == "alpine":
        if "_" in v or v == "edge":
            return "edge"
        m = _MAJOR_MINOR.match(v)
        return f"{m.group(1)}.{m.group(2)}" if m else None
    m = _MAJOR.match(v)
    if os_id == "amzn" and m and len(m.group(1)) == 4 and int(m.group(1)) < 2022:
        return "1"  # the Amazon Linux AMI's releases are dated (2018.03, 2017.09, ...)
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
                UnsupportedReason.NO_ADVISORY_SOURCE,
                NO_FEED_REASONS.get(os_id, f"no advisory feed for {os_id!r}"),
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
    no_source = NO_ADVISORY_SOURCE_RELEASES.get((os_id, release_key(os_id, version_id or "") or ""))
    if release is None and no_source is not None:
        return Unsupported(UnsupportedReason.NO_ADVISORY_SOURCE, no_source)
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
