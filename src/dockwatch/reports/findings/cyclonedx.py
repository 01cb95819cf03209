"""CycloneDX 1.6 JSON with `vulnerabilities` (a VDR, and a VEX for suppressed findings).

The image is `metadata.component`; each vulnerable package is a `library` component with its purl
(one per package, layer and path, so two copies stay two components); each finding is one
`vulnerability` whose `affects` point at those components. Ratings carry every CVSS score of the
finding plus dockwatch's own verdict (method `other`), so a consumer sees which severity was
chosen.

VEX analysis state, per the CycloneDX 1.6 `impactAnalysisState` definitions:
- ACTIVE -> `in_triage`: a scanner match says the vulnerable version is installed; whether it is
  exploitable in this image has not been analysed, which is what `in_triage` means
  (`exploitable` would claim an analysis nobody made).
- SUPPRESSED -> `not_affected` ("the component is not affected"), the state the spec keeps for a
  decision that the finding needs no action, with the suppression reason as `detail` and a
  justification when the suppression came from a VEX statement that gave one. A suppression
  that came from a VEX document saying `fixed`/`resolved` or `false_positive` keeps that state.
- CLOSED -> `resolved` (the vulnerable package is no longer there).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from cyclonedx.model import Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.impact_analysis import (
    ImpactAnalysisAffectedStatus,
    ImpactAnalysisJustification,
    ImpactAnalysisResponse,
    ImpactAnalysisState,
)
from cyclonedx.model.vulnerability import (
    BomTarget,
    BomTargetVersionRange,
    Vulnerability,
    VulnerabilityAdvisory,
    VulnerabilityAnalysis,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from dockwatch.findings.build import score_severity
from dockwatch.reports.common import (
    ExportContext,
    details,
    image_digest,
    ordered_findings,
    package_type,
    packages,
    parse_time,
    related,
    short_hash,
    subject_name,
    vulnerability_id,
)

NS = "dockwatch"
IMAGE_REF = "image"
SEVERITIES = {
    "CRITICAL": VulnerabilitySeverity.CRITICAL,
    "HIGH": VulnerabilitySeverity.HIGH,
    "MEDIUM": VulnerabilitySeverity.MEDIUM,
    "LOW": VulnerabilitySeverity.LOW,
    "INFORMATIONAL": VulnerabilitySeverity.INFO,
    "UNTRIAGED": VulnerabilitySeverity.UNKNOWN,
}
METHODS = {
    "2.0": VulnerabilityScoreSource.CVSS_V2,
    "3.0": VulnerabilityScoreSource.CVSS_V3,
    "3.1": VulnerabilityScoreSource.CVSS_V3_1,
    "4.0": VulnerabilityScoreSource.CVSS_V4,
}
#: an id's prefix -> the database that issued it (for `references[].source`)
ISSUERS = {
    "CVE": ("NVD", "https://nvd.nist.gov/vuln/detail/"),
    "GHSA": ("GitHub Advisory Database", "https://github.com/advisories/"),
    "PYSEC": ("PyPA Advisory Database", "https://osv.dev/vulnerability/"),
    "GO": ("Go Vulnerability Database", "https://pkg.go.dev/vuln/"),
    "RUSTSEC": ("RustSec", "https://rustsec.org/advisories/"),
}
SUPPRESSED_STATES = {
    "not_affected": ImpactAnalysisState.NOT_AFFECTED,
    "false_positive": ImpactAnalysisState.FALSE_POSITIVE,
    "resolved": ImpactAnalysisState.RESOLVED,
    "fixed": ImpactAnalysisState.RESOLVED,
    "resolved_with_pedigree": ImpactAnalysisState.RESOLVED_WITH_PEDIGREE,
}
JUSTIFICATIONS = {j.value: j for j in ImpactAnalysisJustification}


def _uri(text: object) -> XsUri | None:
    if not text:
        return None
    try:
        return XsUri(str(text))
    except Exception:  # the library rejects some strings; a bad link is dropped, not fatal
        return None


def _source(vuln: str, fallback: str | None) -> VulnerabilitySource:
    prefix = vuln.split("-", 1)[0].upper()
    if prefix in ISSUERS:
        name, base = ISSUERS[prefix]
        return VulnerabilitySource(name=name, url=_uri(base + vuln))
    return VulnerabilitySource(name=fallback or "unknown")


def component_ref(package: Mapping[str, Any]) -> str:
    """The bom-ref of a vulnerable package (stable across runs)."""
    return "pkg-" + short_hash(
        package.get("purl"),
        package.get("name"),
        package.get("version"),
        package.get("sourceLayerHash"),
        package.get("filePath"),
    )


def _component(package: Mapping[str, Any], finding: Mapping[str, Any]) -> Component:
    try:
        purl: PackageURL | None = PackageURL.from_string(str(package.get("purl") or ""))
    except ValueError:
        purl = None
    ptype = package_type(package, finding)
    name = str(package.get("name") or "unknown")
    group = None
    if ptype == "java" and ":" in name:
        group, name = name.split(":", 1)
    props = [Property(name=f"{NS}:package:type", value=ptype)]
    for key, prop in (
        ("sourceLayerHash", "layerDigest"),
        ("filePath", "location"),
        ("sourceName", "sourceName"),
        ("arch", "arch"),
        ("packageManager", "packageManager"),
    ):
        if package.get(key):
            props.append(Property(name=f"{NS}:{prop}", value=str(package[key])))
    return Component(
        type=ComponentType.LIBRARY,
        bom_ref=component_ref(package),
        name=name,
        group=group,
        version=str(package.get("version") or "") or None,
        purl=purl,
        properties=props,
    )


def _ratings(finding: Mapping[str, Any]) -> list[VulnerabilityRating]:
    out = []
    for c in details(finding).get("cvss") or ():
        try:
            score = Decimal(str(c.get("baseScore")))
        except (InvalidOperation, ValueError):
            continue
        out.append(
            VulnerabilityRating(
                source=VulnerabilitySource(name=str(c.get("source") or "unknown")),
                score=score,
                severity=SEVERITIES[score_severity(float(score))],
                method=METHODS.get(str(c.get("version")), VulnerabilityScoreSource.OTHER),
                vector=str(c.get("scoringVector") or "") or None,
            )
        )
    severity = str(finding.get("severity") or "UNTRIAGED").upper()
    vendor = details(finding).get("vendorSeverity")
    out.append(
        VulnerabilityRating(
            source=VulnerabilitySource(name=NS),
            severity=SEVERITIES.get(severity, VulnerabilitySeverity.UNKNOWN),
            method=VulnerabilityScoreSource.OTHER,
            justification="the severity dockwatch reports: the distribution's rating for OS "
            "packages, else the CVSS base score"
            + (f" (vendor severity {vendor})" if vendor else ""),
        )
    )
    return out


def analysis(finding: Mapping[str, Any]) -> VulnerabilityAnalysis:
    """The VEX analysis for a finding's status (see the module docstring)."""
    status = str(finding.get("status") or "ACTIVE")
    last = parse_time(finding.get("updatedAt"))
    first = parse_time(finding.get("firstObservedAt"))
    if status == "SUPPRESSED":
        s = finding.get("suppression")
        s = s if isinstance(s, Mapping) else {}
        state = SUPPRESSED_STATES.get(str(s.get("state") or ""), ImpactAnalysisState.NOT_AFFECTED)
        detail = str(s.get("reason") or "suppressed")
        if s.get("ruleArn"):
            detail += f" (suppression rule {s['ruleArn']})"
        elif s.get("origin"):
            detail += f" ({s['origin']})"
        return VulnerabilityAnalysis(
            state=state,
            justification=JUSTIFICATIONS.get(str(s.get("justification") or "")),
            detail=detail,
            first_issued=first,
            last_updated=last,
        )
    if status == "CLOSED":
        return VulnerabilityAnalysis(
            state=ImpactAnalysisState.RESOLVED,
            detail="the vulnerable package is no longer in the image",
            responses=[ImpactAnalysisResponse.UPDATE],
            first_issued=first,
            last_updated=last,
        )
    return VulnerabilityAnalysis(
        state=ImpactAnalysisState.IN_TRIAGE,
        detail="matched by version; exploitability in this image not analysed",
        first_issued=first,
        last_updated=last,
    )


def _vulnerability(finding: Mapping[str, Any]) -> Vulnerability:
    d = details(finding)
    vuln = vulnerability_id(finding)
    pkgs = packages(finding)
    status = str(finding.get("status") or "ACTIVE")
    affected = (
        ImpactAnalysisAffectedStatus.AFFECTED
        if status == "ACTIVE"
        else ImpactAnalysisAffectedStatus.UNAFFECTED
    )
    props = [Property(name=f"{NS}:status", value=status)]
    props.extend(
        Property(name=f"{NS}:{key}", value=str(finding[key]))
        for key in ("findingArn", "fixAvailable", "exploitAvailable")
        if finding.get(key)
    )
    epss = finding.get("epss")
    if isinstance(epss, Mapping) and epss.get("score") is not None:
        props.append(Property(name=f"{NS}:epssScore", value=str(epss["score"])))
    for p in pkgs:
        fixed = p.get("fixedInVersion")
        props.append(
            Property(name=f"{NS}:fixedInVersion:{component_ref(p)}", value=str(fixed or ""))
        )
    remediation = finding.get("remediation") or {}
    text = (remediation.get("recommendation") or {}).get("text") if remediation else None
    return Vulnerability(
        bom_ref="vuln-" + short_hash(finding.get("findingArn"), vuln, status),
        id=vuln,
        source=VulnerabilitySource(
            name=str(d.get("source") or "unknown"), url=_uri(d.get("sourceUrl"))
        ),
        references=[
            VulnerabilityReference(id=r, source=_source(r, d.get("source")))
            for r in related(finding)
        ],
        ratings=_ratings(finding),
        description=str(finding.get("description") or "") or None,
        recommendation=str(text) if text else None,
        advisories=[
            VulnerabilityAdvisory(url=u)
            for u in (_uri(x) for x in d.get("referenceUrls") or ())
            if u is not None
        ],
        analysis=analysis(finding),
        affects=[
            BomTarget(
                ref=component_ref(p),
                versions=[BomTargetVersionRange(version=str(p.get("version")), status=affected)],
            )
            for p in pkgs
        ],
        properties=props,
    )


def _root(ctx: ExportContext, findings: Sequence[Mapping[str, Any]]) -> Component:
    from dockwatch.reports.common import image_purl

    digest = image_digest(ctx, findings)
    props = []
    if ctx.image_reference:
        props.append(Property(name=f"{NS}:image:reference", value=ctx.image_reference))
    if ctx.platform:
        props.append(Property(name=f"{NS}:image:platform", value=ctx.platform))
    purl = None
    if digest:
        try:
            purl = PackageURL.from_string(image_purl(ctx.image_reference or "image", digest))
        except ValueError:
            purl = None
    return Component(
        type=ComponentType.CONTAINER,
        bom_ref=IMAGE_REF,
        name=subject_name(ctx, findings),
        version=digest,
        purl=purl,
        properties=props,
    )


def _unique(components: Iterable[Component]) -> list[Component]:
    seen: dict[str, Component] = {}
    for c in components:
        seen.setdefault(str(c.bom_ref.value), c)
    return list(seen.values())


def to_bom(findings: Sequence[Mapping[str, Any]], ctx: ExportContext) -> Bom:
    """The BOM object (tests validate it; `render` writes it)."""
    found = ordered_findings(findings)
    components = _unique(_component(p, f) for f in found for p in packages(f))
    vulnerabilities = [_vulnerability(f) for f in found]
    root = _root(ctx, findings)
    meta_props = []
    if ctx.database is not None:
        db = ctx.database.to_json()
        meta_props = [
            Property(name=f"{NS}:database:{k}", value=str(v))
            for k, v in db.items()
            if v is not None
        ]
    meta_props += [Property(name=f"{NS}:scan:incomplete", value=text) for text in ctx.incomplete]
    when = ctx.generated_at.replace(microsecond=0)
    seed = hashlib.sha256(
        "\0".join(
            [
                str(root.version or ""),
                when.isoformat(),
                *(str(v.bom_ref.value) for v in vulnerabilities),
            ]
        ).encode()
    ).digest()
    bom = Bom(
        serial_number=uuid.UUID(bytes=seed[:16], version=5),
        metadata=BomMetaData(component=root, timestamp=when, properties=meta_props),
        components=components,
        vulnerabilities=vulnerabilities,
    )
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name=ctx.tool_name, version=ctx.tool_version)
    )
    bom.register_dependency(root, components)
    return bom


def render(findings: Sequence[Mapping[str, Any]], ctx: ExportContext) -> str:
    """CycloneDX 1.6 JSON text, ending in a newline."""
    return JsonV1Dot6(to_bom(findings, ctx)).output_as_string(indent=2) + "\n"
