"""Advisories and enrichment records, shaped like OSV (https://ossf.github.io/osv-schema/).

Every feed parser produces these values and nothing else, so the storage, delta and matcher code
sees one model whatever the source (OSV, Debian tracker, Alpine secdb) and whatever the encoding
(JSON, YAML, zip, folder). `fingerprint()` hashes the normalized content: the same advisory in
another encoding hashes the same, which is what makes "no delta" possible.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, NewType

import orjson
from packaging.utils import canonicalize_name

from dockwatch.value_class import frozen

AdvisoryID = NewType("AdvisoryID", str)
"""An advisory id as its source spells it (`PYSEC-2022-43066`, `GO-2024-0001`, `CVE-2024-1234`)."""

CveID = NewType("CveID", str)
"""A CVE id, upper case (`CVE-2024-1234`); the join key of every enrichment record."""

_CVE_RE = re.compile(r"CVE-\d{4}-\d{4,}")
_CWE_RE = re.compile(r"CWE-\d{1,6}")


def is_cve(value: str) -> bool:
    """Whether `value` is a well-formed CVE id."""
    return _CVE_RE.fullmatch(value) is not None


def is_cwe(value: str) -> bool:
    """Whether `value` is a well-formed CWE id (`CWE-79`)."""
    return _CWE_RE.fullmatch(value) is not None


class RangeType(StrEnum):
    """How a range's event versions are ordered (OSV `ranges[].type`)."""

    ECOSYSTEM = "ECOSYSTEM"
    SEMVER = "SEMVER"
    GIT = "GIT"


class EventKind(StrEnum):
    """OSV range event kinds."""

    INTRODUCED = "introduced"
    FIXED = "fixed"
    LAST_AFFECTED = "last_affected"
    LIMIT = "limit"


class SeverityType(StrEnum):
    """Kinds of severity: the three CVSS generations, OSV's Ubuntu priority, and vendor ratings."""

    CVSS_V2 = "CVSS_V2"
    CVSS_V3 = "CVSS_V3"
    CVSS_V4 = "CVSS_V4"
    UBUNTU = "Ubuntu"
    VENDOR = "VENDOR"


class AffectedStatus(StrEnum):
    """What a source says about one package in one ecosystem or release.

    OSV only has AFFECTED (the ranges say which versions); distribution trackers also say that a
    release was never affected, that no fix will come, or that nobody has looked yet, and the
    matcher must tell those apart from "no data".
    """

    AFFECTED = "affected"
    """The ranges/versions say which versions are affected; a `fixed` event is the fix."""
    NOT_AFFECTED = "not_affected"
    """The source says no version in this ecosystem/release is affected (Debian/Alpine `0`)."""
    WONT_FIX = "wont_fix"
    """Affected and no fix will come in this release (Debian urgency `end-of-life`)."""
    UNDETERMINED = "undetermined"
    """The source has not decided yet (Debian `undetermined`); the matcher says indeterminate."""


@frozen
class Event:
    """One OSV range event."""

    kind: EventKind
    """introduced / fixed / last_affected / limit."""
    version: str
    """The version (or commit for GIT ranges); `0` for "introduced at the beginning"."""


@frozen
class Range:
    """One OSV range: events ordered by the range type's version order."""

    type: RangeType
    """How `events` versions compare."""
    events: tuple[Event, ...]
    """The events, in the order the source gave them."""
    repo: str | None = None
    """The repository URL of a GIT range."""


@frozen
class Severity:
    """One severity statement, with who made it."""

    type: SeverityType
    """The kind of statement."""
    value: str
    """The CVSS vector, or the vendor's rating word (Debian urgency `unimportant`)."""
    source: str
    """Who says so: the feed name, or the NVD metric `source` (`nvd@nist.gov`)."""
    base_score: float | None = None
    """CVSS base score computed from the vector (None for vendor ratings or bad vectors)."""
    rating: str | None = None
    """Qualitative rating (`CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, `NONE`, `NEGLIGIBLE`), upper case."""


@frozen
class Reference:
    """A link with its OSV reference type (ADVISORY, FIX, WEB, PACKAGE, ...)."""

    type: str
    """OSV reference type, upper case."""
    url: str
    """The URL."""


@frozen
class Affected:
    """One affected package in one ecosystem (or distribution release)."""

    ecosystem: str
    """OSV ecosystem, with the release for distributions: `PyPI`, `Debian:12`, `Alpine:v3.19`."""
    name: str
    """Package name normalized for the ecosystem (see `normalize_package_name`)."""
    ranges: tuple[Range, ...] = ()
    """Affected ranges."""
    versions: tuple[str, ...] = ()
    """Explicitly listed affected versions."""
    purl: str | None = None
    """The package URL the source gave, if any."""
    status: AffectedStatus = AffectedStatus.AFFECTED
    """What the source says beyond the ranges (distribution trackers)."""
    severities: tuple[Severity, ...] = ()
    """Severities stated for this package only (OSV `affected[].severity`, Debian urgency)."""

    @property
    def fixed_versions(self) -> tuple[str, ...]:
        """Every `fixed` event version, in order, without duplicates."""
        seen: dict[str, None] = {}
        for r in self.ranges:
            for e in r.events:
                if e.kind is EventKind.FIXED:
                    seen.setdefault(e.version, None)
        return tuple(seen)


@frozen
class Advisory:
    """One advisory as its source publishes it, normalized."""

    id: AdvisoryID
    """The source's id; unique within `source`."""
    source: str
    """The feed that produced it (`osv:PyPI`, `debian`, `alpine`); not part of the fingerprint."""
    aliases: tuple[str, ...] = ()
    """Other ids for the same vulnerability (OSV `aliases`), sorted, deduplicated."""
    related: tuple[str, ...] = ()
    """Ids of related but distinct vulnerabilities (OSV `related`; AlmaLinux lists CVEs here)."""
    summary: str = ""
    """One line."""
    details: str = ""
    """Longer text (Markdown in OSV)."""
    published: datetime | None = None
    """First publication (UTC), None when unknown or a placeholder."""
    modified: datetime | None = None
    """Last modification (UTC), None when unknown or a placeholder."""
    withdrawn: datetime | None = None
    """When the source withdrew it; a withdrawn advisory must not match."""
    references: tuple[Reference, ...] = ()
    """Links, in source order."""
    cwe_ids: tuple[str, ...] = ()
    """CWE ids, sorted."""
    severities: tuple[Severity, ...] = ()
    """Advisory-level severities, from every source that stated one."""
    affected: tuple[Affected, ...] = ()
    """The affected packages."""

    @property
    def cve_ids(self) -> tuple[str, ...]:
        """The CVE ids this advisory is about: its own id if a CVE, else CVE aliases.

        Distribution errata (ALSA) name the CVEs they fix in `related` only; those count when
        neither the id nor the aliases name a CVE.
        """
        if is_cve(self.id):
            return (self.id,)
        ids = tuple(a for a in self.aliases if is_cve(a))
        return ids or tuple(r for r in self.related if is_cve(r))


@frozen
class KevEntry:
    """One CISA Known Exploited Vulnerabilities catalogue entry."""

    cve_id: CveID
    """The CVE."""
    vendor_project: str
    """`vendorProject`."""
    product: str
    """`product`."""
    name: str
    """`vulnerabilityName`."""
    date_added: date
    """`dateAdded`: when CISA listed it."""
    short_description: str = ""
    """`shortDescription`."""
    required_action: str = ""
    """`requiredAction`."""
    due_date: date | None = None
    """`dueDate` for US federal agencies."""
    known_ransomware_use: bool | None = None
    """`knownRansomwareCampaignUse`: True for `Known`, False for `Unknown`, None if absent."""
    notes: str = ""
    """`notes`."""
    cwe_ids: tuple[str, ...] = ()
    """`cwes`, sorted."""


@frozen
class EpssScore:
    """One EPSS score (https://www.first.org/epss/)."""

    cve_id: CveID
    """The CVE."""
    score: float
    """Probability of exploitation activity in the next 30 days, 0..1."""
    percentile: float
    """Rank of the score among all scored CVEs, 0..1."""
    model_version: str = ""
    """From the file's comment line (`v2025.03.14`)."""
    score_date: datetime | None = None
    """From the file's comment line."""


@frozen
class NvdCvss:
    """CVSS (and CWE) facts NVD holds for one CVE; enrichment only, never a match on its own."""

    cve_id: CveID
    """The CVE."""
    severities: tuple[Severity, ...] = ()
    """Every CVSS metric NVD lists (primary and secondary sources), with computed scores."""
    cwe_ids: tuple[str, ...] = ()
    """CWE ids from `weaknesses`, sorted."""
    description: str = ""
    """The English description."""
    published: datetime | None = None
    """`published`."""
    last_modified: datetime | None = None
    """`lastModified`."""
    status: str = ""
    """`vulnStatus` (`Analyzed`, `Rejected`, ...)."""


EnrichmentRecord = KevEntry | EpssScore | NvdCvss
"""Records keyed by CVE that enrich findings but never create them."""


# --- normalization ---------------------------------------------------------------------------

_PEP503_ECOSYSTEMS = frozenset({"PyPI"})
_LOWERCASE_ECOSYSTEMS = frozenset({"NuGet", "Packagist", "Hex", "Pub"})


def normalize_package_name(ecosystem: str, name: str) -> str:
    """Normalize a package name the way its ecosystem compares names.

    PyPI: PEP 503 (via packaging); NuGet, Packagist, Hex, Pub: case-insensitive, so lower case;
    Maven: `group:artifact` with surrounding spaces removed; Go: module paths are case-sensitive and
    kept, without a trailing slash; distributions: source package names as given (already
    canonical). Everything else is stripped and kept.
    """
    base = ecosystem.split(":", 1)[0]
    name = name.strip()
    if base in _PEP503_ECOSYSTEMS:
        return canonicalize_name(name)
    if base in _LOWERCASE_ECOSYSTEMS:
        return name.lower()
    if base == "Maven":
        return ":".join(part.strip() for part in name.split(":"))
    if base == "Go":
        return name.rstrip("/")
    return name


def to_utc(value: datetime) -> datetime:
    """A timezone-aware UTC datetime (naive values are taken as UTC, as OSV requires)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# --- CVSS ----------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def cvss_score(type_: SeverityType, vector: str) -> tuple[float | None, str | None]:
    """Base score and qualitative rating of a CVSS vector, or (None, None) if it is invalid.

    Uses the `cvss` library (RedHatProductSecurity/cvss), which implements FIRST's v2, v3.0, v3.1
    and v4.0 specifications; tests check it against FIRST's published examples. CVSS v2 has no
    official rating, so NVD's bands (0-3.9 LOW, 4-6.9 MEDIUM, 7-10 HIGH) are used.
    """
    # imported by the first vector scored (2 ms), not by each process that loads the model
    from cvss import CVSS2, CVSS3, CVSS4, CVSSError

    try:
        if type_ is SeverityType.CVSS_V2:
            v2 = CVSS2(vector.removeprefix("(").removesuffix(")"))
            score = float(v2.base_score)
            return score, "HIGH" if score >= 7.0 else "MEDIUM" if score >= 4.0 else "LOW"
        if type_ is SeverityType.CVSS_V3:
            v3 = CVSS3(vector)
            return float(v3.base_score), str(v3.severities()[0]).upper()
        if type_ is SeverityType.CVSS_V4:
            v4 = CVSS4(vector)
            return float(v4.base_score), str(v4.severity).upper()
    except (CVSSError, ValueError, KeyError, IndexError, TypeError, ArithmeticError):
        return None, None
    return None, None


def cvss_severity(type_: SeverityType, vector: str, source: str) -> Severity:
    """A Severity for a CVSS vector, with its computed base score (None if the vector is bad)."""
    score, rating = cvss_score(type_, vector)
    return Severity(type=type_, value=vector, source=source, base_score=score, rating=rating)


def cvss_type_of(vector: str) -> SeverityType:
    """The CVSS generation a vector string belongs to, from its prefix (v2 has none)."""
    if vector.startswith("CVSS:4."):
        return SeverityType.CVSS_V4
    if vector.startswith("CVSS:3."):
        return SeverityType.CVSS_V3
    return SeverityType.CVSS_V2


# --- fingerprint -----------------------------------------------------------------------------


def _ts(value: datetime | None) -> str | None:
    return None if value is None else to_utc(value).isoformat(timespec="microseconds")


def _sev(s: Severity) -> list[Any]:
    # base_score/rating are derived from the vector, so they stay out of the content hash.
    return [s.type.value, s.value, s.source]


def canonical_content(adv: Advisory) -> dict[str, Any]:
    """The advisory as plain data, normalized for hashing.

    Sets (aliases, CWE ids, listed versions) are sorted; timestamps are UTC with microseconds;
    the feed name (`source`) and derived values (scores) are left out, so the same record parsed
    from JSON or YAML, zip or folder, with keys in any order, gives the same content.
    """
    return {
        "id": adv.id,
        "aliases": sorted(adv.aliases),
        "related": sorted(adv.related),
        "summary": adv.summary,
        "details": adv.details,
        "published": _ts(adv.published),
        "modified": _ts(adv.modified),
        "withdrawn": _ts(adv.withdrawn),
        "references": [[r.type, r.url] for r in adv.references],
        "cwe_ids": sorted(adv.cwe_ids),
        "severities": [_sev(s) for s in adv.severities],
        "affected": [
            {
                "ecosystem": a.ecosystem,
                "name": a.name,
                "purl": a.purl,
                "status": a.status.value,
                "versions": sorted(a.versions),
                "severities": [_sev(s) for s in a.severities],
                "ranges": [
                    [r.type.value, r.repo, [[e.kind.value, e.version] for e in r.events]]
                    for r in a.ranges
                ],
            }
            for a in adv.affected
        ],
    }


def fingerprint(adv: Advisory) -> str:
    """A stable SHA-256 (hex) of the advisory's normalized content (see `canonical_content`)."""
    return content_fingerprint(canonical_content(adv))


def content_fingerprint(content: dict[str, Any]) -> str:
    """`fingerprint` of content already made by `canonical_content` (or read back from storage)."""
    blob = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(blob).hexdigest()
