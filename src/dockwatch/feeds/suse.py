"""SUSE's and openSUSE's OSV records (SUSE Linux Enterprise, openSUSE Leap and Tumbleweed).

SUSE publishes its advisories as OSV at https://ftp.suse.com/pub/projects/security/osv/ (also as
CSAF, CVRF and OVAL under the same folder); osv.dev serves the same records as one archive per
family: `https://osv-vulnerabilities.storage.googleapis.com/SUSE/all.zip` and
`.../openSUSE/all.zip`, fetched with a conditional request like every OSV feed. One record per
update (`SUSE-SU-2024:3926-1`, `openSUSE-SU-…`); `upstream` (or `related`) names the CVEs it
fixes, so the finding is filed under the CVE. Each affected entry is one *binary* rpm of one
product (`libopenssl3` in `SUSE:Linux Enterprise Module for Basesystem 15 SP5`) with its fixed
version: SUSE advises by binary package, and matching is by binary name.

What this module adds to the OSV parser (`normalize`): an image's os-release names its release
(`ID=sles`, `VERSION_ID=15.5`), never the products or modules its rpms came from, so every
SUSE Linux Enterprise product and module of one service pack is folded into one ecosystem per
service pack (`SUSE:Linux Enterprise 15 SP5`): Server, Server for SAP Applications, Desktop,
High Performance Computing, the modules (Basesystem, Server Applications, ...) and their LTSS
and ESPOS lifecycles. SLE 12 modules carry no service pack (`... Module for Web and Scripting
12`) and apply to every SLE 12 service pack; an entry of the service pack itself wins over
theirs. openSUSE Leap's NonFree repository folds into its release (`openSUSE:Leap 15.5`);
Tumbleweed is `openSUSE:Tumbleweed`. Products an image cannot name (SLE Micro, Leap Micro, SUSE
Manager, SUSE Enterprise Storage, ...) are kept as published and matched by no release. When
several entries fold into one (release, package), the highest fixed version wins, so a product
that shipped the fix later never hides a finding.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass

from dockwatch import distros
from dockwatch.feeds.feed import FeedItem, Fetched
from dockwatch.feeds.osv_feed import OsvFeed as _OsvFeed
from dockwatch.feeds.osv_feed import fetched_records
from dockwatch.model.advisory import Advisory, Affected
from dockwatch.versions.scheme import InvalidVersion, scheme_for

SUSE_SOURCE = "osv:SUSE"
OPENSUSE_SOURCE = "osv:openSUSE"
SOURCES = frozenset({SUSE_SOURCE, OPENSUSE_SOURCE})
SLE_PREFIX = "SUSE:Linux Enterprise "

_SLE = re.compile(
    r"SUSE:Linux Enterprise (?P<product>.+?) (?P<major>11|12|15|16)"
    r"(?: SP(?P<sp>\d{1,2})|\.(?P<minor>\d{1,2}))?(?P<suffix>-[A-Za-z0-9-]+)?"
)
_LEAP = re.compile(r"openSUSE:Leap (?P<version>\d{2}\.\d{1,2})(?: NonFree)?")
_NOT_A_RELEASE = ("Micro", "Manager", "Storage")
"""Products whose names look like SLE but are releases of their own (not matched)."""
_SCHEME = scheme_for("SUSE")


def sle_ecosystem(major: str, sp: int) -> str:
    """`SUSE:Linux Enterprise 15 SP5` (service pack 0 is the bare major: `... 15`)."""
    return f"{SLE_PREFIX}{major} SP{sp}" if sp else f"{SLE_PREFIX}{major}"


def _sle12_releases() -> tuple[str, ...]:
    """The SLE 12 service packs of the distros table, for modules that apply to all of them."""
    return tuple(
        r.ecosystem
        for r in distros.RELEASES
        if r.ecosystem == f"{SLE_PREFIX}12" or r.ecosystem.startswith(f"{SLE_PREFIX}12 SP")
    )


def release_ecosystems(ecosystem: str) -> tuple[tuple[str, ...], bool] | None:
    """(the release ecosystems an entry applies to, whether it applies to them only as a module
    of every service pack), or None for an ecosystem left as published."""
    m = _SLE.fullmatch(ecosystem)
    if m is not None:
        product = m.group("product")
        if product.startswith(_NOT_A_RELEASE):
            return None
        major, sp, minor = m.group("major"), m.group("sp"), m.group("minor")
        if minor is not None:  # SLE 16 numbers its releases `16.0`
            return (f"{SLE_PREFIX}{major}.{minor}",), False
        if sp is None and major == "12" and product.startswith("Module"):
            return _sle12_releases(), True
        return (sle_ecosystem(major, int(sp or 0)),), False
    m = _LEAP.fullmatch(ecosystem)
    if m is not None:
        return (f"openSUSE:Leap {m.group('version')}",), False
    return None


def _fix_key(a: Affected) -> tuple[int, object]:
    """Orders entries by their fix: no fix (still affected) sorts last, an unreadable fix first."""
    fixes = a.fixed_versions
    if not fixes:
        return (2, ())
    try:
        return (1, max(_SCHEME.key(v) for v in fixes)) if _SCHEME else (0, ())
    except InvalidVersion:
        return (0, ())


def normalize(adv: Advisory) -> Advisory:
    """The record with its SUSE entries folded into one ecosystem per release."""
    chosen: dict[tuple[str, str], tuple[bool, Affected]] = {}
    kept: list[Affected] = []
    for a in adv.affected:
        target = release_ecosystems(a.ecosystem)
        if target is None:
            kept.append(a)
            continue
        ecosystems, shared = target
        for eco in ecosystems:
            entry = dataclasses.replace(a, ecosystem=eco, purl=None)
            key = (eco, a.name)
            prev = chosen.get(key)
            if prev is None or (prev[0] and not shared):
                chosen[key] = (shared, entry)  # first, or the service pack's own over a module's
            elif prev[0] == shared and _fix_key(entry) > _fix_key(prev[1]):
                chosen[key] = (shared, entry)
    affected = tuple(kept) + tuple(chosen[k][1] for k in sorted(chosen))
    return dataclasses.replace(adv, affected=affected)


def parse(items: Iterator[FeedItem]) -> Iterator[FeedItem]:
    """`normalize` over parsed OSV items; problems are passed on."""
    for item in items:
        yield normalize(item) if isinstance(item, Advisory) else item


@dataclass
class SuseFeed(_OsvFeed):
    """SUSE Linux Enterprise's OSV records, by default osv.dev's copy (`SUSE/all.zip`, a
    conditional GET); SUSE's own `osv/` folder, downloaded, imports the same way
    (`dockwatch db import`)."""

    ecosystem: str = "SUSE"

    def parse(self, fetched: Fetched) -> Iterator[FeedItem]:
        """Every record of every fetched file or folder, normalized."""
        yield from parse(fetched_records(fetched, self.name, self.limits))


@dataclass
class OpenSuseFeed(SuseFeed):
    """openSUSE Leap's and Tumbleweed's OSV records (`openSUSE/all.zip`)."""

    ecosystem: str = "openSUSE"
