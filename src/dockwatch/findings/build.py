"""Turning matches into typed finding details (pure, given the advisory contents).

One finding per vulnerability id: the CVE when the advisory names one (each CVE of an erratum
that fixes several), else the source's own id;
advisories from several sources about one CVE merge into one finding that lists them all in
`relatedVulnerabilities`. Severity comes from the most relevant source: the distribution's own
rating for OS packages (Debian urgencies mapped as below), else the CVSS base score (v3, then
v4, then v2), else a vendor rating, else UNTRIAGED.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockwatch.match.matcher import Match
from dockwatch.model.advisory import SeverityType, cvss_score
from dockwatch.model.finding import Cvss, FindingDetail, MatchEvidence, VulnerablePackage
from dockwatch.model.package import OS_PACKAGE_TYPES, Package
from dockwatch.model.package_doc import dump_package, package_ref

_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")

#: Debian urgencies -> Inspector severities ("**" marks an urgency Debian derived from NVD)
DEBIAN_URGENCY = {"unimportant": "INFORMATIONAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH"}
#: vendor words (GHSA's MODERATE, ...) -> Inspector severities
VENDOR_WORDS = {
    "CRITICAL": "CRITICAL", "HIGH": "HIGH", "IMPORTANT": "HIGH", "MODERATE": "MEDIUM",
    "MEDIUM": "MEDIUM", "LOW": "LOW", "NEGLIGIBLE": "INFORMATIONAL", "INFORMATIONAL": "INFORMATIONAL",
}  # fmt: skip
#: package type -> Inspector packageManager, for packages whose cataloger named none
PACKAGE_MANAGERS = {
    "deb": "OS", "apk": "OS", "rpm": "OS", "python": "PYTHONPKG", "npm": "NODEPKG", "java": "JAR",
    "go": "GOBINARY", "rust": "CARGO", "gem": "GEMSPEC", "composer": "COMPOSER",
    "nuget": "DOTNET_CORE", "bitnami": "OS",
}  # fmt: skip
SEVERITY_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNTRIAGED")


def score_severity(score: float) -> str:
    """Inspector's bands for a CVSS base score."""
    if score >= 9.0:
        return "CRITICAL"
    if score >= 7.0:
        return "HIGH"
    if score >= 4.0:
        return "MEDIUM"
    if score > 0.0:
        return "LOW"
    return "INFORMATIONAL"


def vulnerability_id(content: Mapping[str, Any]) -> str:
    """The CVE an advisory is about (its id, a CVE alias, or a CVE in `related`), else its id."""
    return vulnerability_ids(content)[0]


def vulnerability_ids(content: Mapping[str, Any]) -> tuple[str, ...]:
    """The findings an advisory is filed under: its id or its first CVE alias (one
    vulnerability), else every CVE in `related` (an erratum such as ALAS or ALSA fixes several),
    else its own id."""
    own = str(content["id"])
    if _CVE.match(own):
        return (own,)
    cves = sorted(str(a) for a in content.get("aliases", ()) if _CVE.match(str(a)))
    if cves:
        return (cves[0],)
    related = sorted({str(a) for a in content.get("related", ()) if _CVE.match(str(a))})
    return tuple(related) or (own,)


@dataclass(slots=True)
class FindingDraft:
    """Everything a finding says, before it is stored."""

    vulnerability_id: str
    severity: str
    fix_available: str
    detail: FindingDetail
    package_refs: list[str] = field(default_factory=list)
    """The inventory ref of each entry of `vulnerablePackages`, in order (see `package_ref`)."""


@functools.lru_cache(maxsize=1 << 14)
def _score(stype: str, vector: str) -> float | None:
    """A CVSS vector's base score (cached: the `cvss` library parses the vector each time, and a
    rescan drafts the same advisories' vectors for every distinct package set, 1,564 drafts in
    a 1,000-advisory update)."""
    return cvss_score(SeverityType(stype), vector)[0]


def _cvss(content: Mapping[str, Any]) -> list[Cvss]:
    out = []
    for stype, vector, source in content.get("severities", ()):
        if stype in ("CVSS_V2", "CVSS_V3", "CVSS_V4"):
            score = _score(stype, vector)
            if score is not None:
                version = {"CVSS_V2": "2.0", "CVSS_V4": "4.0"}.get(stype) or (
                    "3.0" if vector.startswith("CVSS:3.0") else "3.1"
                )
                out.append(Cvss(score, vector, source, version))
    order = {"3.1": 0, "3.0": 1, "4.0": 2, "2.0": 3}
    return sorted(out, key=lambda c: order[c.version])


def _vendor(
    content: Mapping[str, Any], affected_severities: Sequence[Sequence[str]]
) -> tuple[str, str] | None:
    for stype, value, source in [*affected_severities, *content.get("severities", ())]:
        if stype != "VENDOR":
            continue
        word = value.rstrip("*").strip()
        if source == "debian" or word.lower() in DEBIAN_URGENCY:
            mapped = DEBIAN_URGENCY.get(word.lower())
            if mapped:
                return value, mapped
        elif word.upper() in VENDOR_WORDS:
            return value, VENDOR_WORDS[word.upper()]
    return None


def _affected_severities(content: Mapping[str, Any], ecosystem: str, name: str) -> list[list[str]]:
    for a in content.get("affected", ()):
        if a.get("ecosystem") == ecosystem and a.get("name") == name:
            return list(a.get("severities", ()))
    return []


def build(
    matches: Sequence[Match],
    contents: Mapping[tuple[str, str], Mapping[str, Any]],
    enrichment: Mapping[str, Mapping[str, Mapping[str, Any]]],
) -> dict[str, FindingDraft]:
    """Finding drafts by vulnerability id for one image's matches."""
    groups: dict[str, list[Match]] = {}
    for m in matches:
        content = contents.get((m.source, m.advisory_id))
        if content is None:
            continue
        for vuln in vulnerability_ids(content):
            groups.setdefault(vuln, []).append(m)
    drafts: dict[str, FindingDraft] = {}
    for vuln, group in groups.items():
        group.sort(key=lambda m: (m.source, m.advisory_id, m.package.type, m.package.name))
        first = contents[(group[0].source, group[0].advisory_id)]
        related = sorted(
            (
                {m.advisory_id for m in group}
                | {a for m in group for a in contents[(m.source, m.advisory_id)].get("aliases", ())}
            )
            - {vuln}
        )
        cvss = [c for m in group for c in _cvss(contents[(m.source, m.advisory_id)])]
        os_match = next((m for m in group if m.package.type in OS_PACKAGE_TYPES), None)
        vendor = None
        if os_match is not None:
            c = contents[(os_match.source, os_match.advisory_id)]
            vendor = _vendor(
                c, _affected_severities(c, os_match.evidence.ecosystem, os_match.evidence.name)
            )
        if vendor is None:
            for m in group:
                c = contents[(m.source, m.advisory_id)]
                vendor = _vendor(c, _affected_severities(c, m.evidence.ecosystem, m.evidence.name))
                if vendor:
                    break
        score = cvss[0].base_score if cvss else None
        if os_match is not None and vendor is not None:
            severity = vendor[1]
        elif score is not None:
            severity = score_severity(score)
        elif vendor is not None:
            severity = vendor[1]
        else:
            severity = "UNTRIAGED"
        packages: list[VulnerablePackage] = []
        package_refs: list[str] = []
        seen: set[tuple[str, str, str, str | None]] = set()
        for m in group:
            p = m.package
            key = (p.type, p.name, p.version, p.layer_digest)
            if key in seen:
                continue
            seen.add(key)
            package_refs.append(_ref(p))
            packages.append(
                VulnerablePackage(
                    name=p.name,
                    version=p.version,
                    epoch=p.epoch,
                    release=p.release,
                    arch=p.arch,
                    package_manager=p.package_manager or PACKAGE_MANAGERS.get(p.type, "OS"),
                    file_path=p.locations[0] if p.locations else None,
                    source_layer_hash=p.layer_digest,
                    fixed_in_version=m.fixed_version or "NotAvailable",
                    remediation=f"Upgrade {p.name} to {m.fixed_version}"
                    if m.fixed_version
                    else "No fixed version is known",
                    purl=p.purl,
                    source_name=p.source_name,
                )
            )
        fixed = [p for p in packages if p.fixed_in_version != "NotAvailable"]
        fix_available = "YES" if len(fixed) == len(packages) else "PARTIAL" if fixed else "NO"
        extra = enrichment.get(vuln, {})
        refs = [
            r[1] for m in group for r in contents[(m.source, m.advisory_id)].get("references", ())
        ]
        names = ", ".join(sorted({p.name for p in packages}))
        drafts[vuln] = FindingDraft(
            vuln,
            severity,
            fix_available,
            FindingDetail(
                title=f"{vuln} - {names}",
                description=first.get("summary") or first.get("details") or vuln,
                inspector_score=score,
                exploit_available="YES" if "kev" in extra else "NO",
                epss_score=extra["epss"]["score"] if "epss" in extra else None,
                fix_available=fix_available,
                vulnerability_id=vuln,
                source=group[0].source,
                source_url=refs[0] if refs else None,
                vendor_severity=vendor[0] if vendor else None,
                cvss=tuple(cvss),
                reference_urls=tuple(sorted(set(refs))[:50]),
                related_vulnerabilities=tuple(related),
                packages=tuple(packages),
                evidence=tuple(
                    MatchEvidence(
                        advisory=f"{m.source}/{m.advisory_id}",
                        package=f"{m.package.type}/{m.package.name}@{m.package.version}",
                        searched_by=m.evidence.searched_by,
                        ecosystem=m.evidence.ecosystem,
                        name=m.evidence.name,
                        version=m.evidence.version,
                        scheme=m.evidence.scheme,
                        via=m.evidence.via,
                        introduced=m.evidence.introduced,
                        fixed=m.evidence.fixed,
                        last_affected=m.evidence.last_affected,
                    )
                    for m in group
                ),
            ),
            package_refs,
        )
    return drafts


_REFS: dict[Package, str] = {}
_REFS_MAX = 1 << 16
"""Inventory refs of packages seen lately (serializing a package costs more than the rest of
building a finding, and the same packages recur in every image of a base)."""


def remember_refs(known: Mapping[str, Package]) -> None:
    """Packages read from the store under their ref (ref -> package): building their findings
    names them without serializing them again (a 1,000-advisory update drafts 891 packages read
    by ref: 0.1 s of CPU saved)."""
    if len(_REFS) + len(known) > _REFS_MAX:
        _REFS.clear()
    _REFS.update({pkg: ref for ref, pkg in known.items()})


def _ref(pkg: Package) -> str:
    """The inventory ref of a package (see `package_ref`)."""
    found = _REFS.get(pkg)
    if found is None:
        if len(_REFS) >= _REFS_MAX:
            _REFS.clear()
        found = _REFS[pkg] = package_ref(dump_package(pkg))
    return found
