"""Ubuntu's OSV records (canonical/ubuntu-security-notices `osv/`, also osv.dev's `Ubuntu/all.zip`).

Ubuntu publishes one record per CVE (`osv/cve/<year>/UBUNTU-CVE-….json`; older ones were named
`CVE-….json`), one per notice (`osv/usn/USN-….json`) and one per Livepatch notice (`LSN-…`)
(https://documentation.ubuntu.com/security/docs/security-updates/osv/). A CVE record lists every
release's *source* package: a `fixed` event where a fix is published, and `introduced: 0` with
no fix where the package is affected and unfixed (needs triage, deferred, ...). Its `upstream`
names the CVE, `related` the USNs that fixed it, and a severity of type `Ubuntu` carries Ubuntu's
priority (`negligible` ... `critical`).

Ecosystems are `Ubuntu:<release>:LTS`, `Ubuntu:<release>` (interim) and `Ubuntu:Pro:<release>:LTS`
for the fixes of Expanded Security Maintenance (`+esmN` versions). Lineages an image's os-release
cannot name (`Ubuntu:Pro:FIPS…`, `…:Realtime…`, NVIDIA BlueField) are left out. What this module
adds to the OSV parser (`normalize`):

- a Pro entry is folded into its release's ecosystem when the release's own entry has no fix
  (the release left standard support, and the fix exists only through Ubuntu Pro); a release
  entry with a fix wins;
- Ubuntu's priority is also stated as a vendor severity, so findings use it for OS packages;
- notice records (USN, LSN) repeat what the CVE records say, so they are not matched: each CVE
  record names its notices in `related`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass

from dockwatch.feeds.feed import FeedItem, Fetched
from dockwatch.feeds.osv_feed import OsvFeed as _OsvFeed
from dockwatch.feeds.osv_feed import fetched_records
from dockwatch.model.advisory import Advisory, Affected, EventKind, Severity, SeverityType

SOURCE = "osv:Ubuntu"
_RELEASE = re.compile(r"Ubuntu:(\d{2}\.\d{2})(:LTS)?")
_PRO = re.compile(r"Ubuntu:Pro:(\d{2}\.\d{2}):LTS")
_NOTICE = re.compile(r"(USN|LSN)-\d+-\d+")


def release_ecosystem(ecosystem: str) -> tuple[str, bool] | None:
    """(the release's ecosystem, whether this is a Pro entry), None for other lineages."""
    if _RELEASE.fullmatch(ecosystem):
        return ecosystem, False
    m = _PRO.fullmatch(ecosystem)
    if m:
        return f"Ubuntu:{m.group(1)}:LTS", True
    return None


def _has_fix(a: Affected) -> bool:
    return any(e.kind is EventKind.FIXED for r in a.ranges for e in r.events)


def is_notice(adv: Advisory) -> bool:
    """A USN or LSN record (its CVE records carry the same facts)."""
    return _NOTICE.fullmatch(adv.id) is not None


def normalize(adv: Advisory) -> Advisory:
    """The record as dockwatch matches it: Pro entries folded into their release, other lineages
    dropped, Ubuntu's priority also as a vendor severity."""
    chosen: dict[tuple[str, str], tuple[Affected, bool]] = {}
    others: list[Affected] = []
    for a in adv.affected:
        if not a.ecosystem.startswith("Ubuntu:"):
            others.append(a)
            continue
        target = release_ecosystem(a.ecosystem)
        if target is None:
            continue
        eco, pro = target
        key = (eco, a.name)
        prev = chosen.get(key)
        entry = dataclasses.replace(a, ecosystem=eco) if pro else a
        if prev is None:
            chosen[key] = (entry, pro)
        elif prev[1] and not pro and _has_fix(entry):
            chosen[key] = (entry, pro)  # the release's own fix wins over Pro's
        elif not prev[1] and pro and not _has_fix(prev[0]):
            chosen[key] = (entry, pro)  # unfixed in the release: Pro's fix (or word) applies
    affected = tuple(others) + tuple(chosen[k][0] for k in sorted(chosen))
    severities = list(adv.severities)
    for s in adv.severities:
        if s.type is SeverityType.UBUNTU and not any(
            v.type is SeverityType.VENDOR and v.value == s.value for v in severities
        ):
            severities.append(
                Severity(SeverityType.VENDOR, s.value, adv.source, rating=s.value.upper())
            )
    return dataclasses.replace(adv, affected=affected, severities=tuple(severities))


def parse(items: Iterator[FeedItem]) -> Iterator[FeedItem]:
    """`normalize` over parsed OSV items; notice records are dropped, problems passed on."""
    for item in items:
        if isinstance(item, Advisory):
            if is_notice(item):
                continue
            yield normalize(item)
        else:
            yield item


@dataclass
class UbuntuFeed(_OsvFeed):
    """Ubuntu's OSV records, by default osv.dev's copy (`Ubuntu/all.zip`, a conditional GET);
    a checkout of the repository's `osv/` folder or Canonical's tarball unpacked imports the
    same way (`dockwatch db import`)."""

    ecosystem: str = "Ubuntu"

    def parse(self, fetched: Fetched) -> Iterator[FeedItem]:
        """Every CVE record of every fetched file or folder, normalized."""
        yield from parse(fetched_records(fetched, self.name, self.limits))
