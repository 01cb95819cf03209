"""A finding's content as a typed value, and its one codec to and from Inspector's JSON shape.

The domain builds and reads `FindingDetail`; only the edges (the stored detail document, the
API, exports, webhooks) see JSON, and they all get it from `detail_json`, which writes one
canonical key order (the order the document has always been built in). `FindingDetail.from_json`
is its exact inverse: it accepts only documents `detail_json` could have written, so a parsed
detail renders back to the same JSON, and so to the same content hash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from dockwatch.errors import InvalidInput
from dockwatch.value_class import frozen

FINDING_TYPE = "PACKAGE_VULNERABILITY"


class DetailInvalid(InvalidInput):
    """A detail document that is not in the shape `detail_json` writes."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid finding detail: {reason}")
        self.reason = reason


@frozen
class Cvss:
    """One CVSS rating of the vulnerability, as a source gave it."""

    base_score: float
    scoring_vector: str
    source: str
    version: str
    """`3.1`, `3.0`, `4.0` or `2.0`."""


@frozen
class VulnerablePackage:
    """One package of the image the vulnerability affects."""

    name: str
    version: str
    epoch: int | None
    release: str | None
    arch: str | None
    package_manager: str
    """Inspector's word: `OS`, `PYTHONPKG`, `NODEPKG`, ..."""
    file_path: str | None
    source_layer_hash: str | None
    fixed_in_version: str
    """The fixing version, or `NotAvailable`."""
    remediation: str
    purl: str
    source_name: str | None


@frozen
class MatchEvidence:
    """How one advisory was matched to one package (dockwatch's addition to Inspector's shape)."""

    advisory: str
    """`source/advisory id`."""
    package: str
    """`type/name@version`."""
    searched_by: str
    ecosystem: str
    name: str
    version: str
    scheme: str
    via: str
    introduced: str | None
    fixed: str | None
    last_affected: str | None


@frozen
class FindingDetail:
    """Everything a finding says about its vulnerability and the packages it affects."""

    title: str
    description: str
    inspector_score: float | None
    """The base score of the first CVSS rating, None without one."""
    exploit_available: str
    epss_score: float | None
    fix_available: str
    vulnerability_id: str
    source: str
    source_url: str | None
    vendor_severity: str | None
    cvss: tuple[Cvss, ...]
    reference_urls: tuple[str, ...]
    related_vulnerabilities: tuple[str, ...]
    packages: tuple[VulnerablePackage, ...]
    evidence: tuple[MatchEvidence, ...]

    @property
    def recommendation(self) -> str:
        """The remediation text: every package's, in order."""
        return "; ".join(p.remediation for p in self.packages)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> FindingDetail:
        """The detail a document describes; `DetailInvalid` unless `detail_json` could have
        written it (any key order), so that `detail_json(from_json(doc)) == doc`."""
        try:
            detail = _parse(doc)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DetailInvalid(f"{type(exc).__name__}: {exc}") from exc
        if _canonical(detail_json(detail)) != _canonical(doc):
            raise DetailInvalid("the document has keys or values a detail cannot hold")
        return detail


def _canonical(doc: Mapping[str, Any]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def _cvss_json(c: Cvss) -> dict[str, Any]:
    return {
        "baseScore": c.base_score,
        "scoringVector": c.scoring_vector,
        "source": c.source,
        "version": c.version,
    }


def _package_json(p: VulnerablePackage) -> dict[str, Any]:
    return {
        "name": p.name,
        "version": p.version,
        "epoch": p.epoch,
        "release": p.release,
        "arch": p.arch,
        "packageManager": p.package_manager,
        "filePath": p.file_path,
        "sourceLayerHash": p.source_layer_hash,
        "fixedInVersion": p.fixed_in_version,
        "remediation": p.remediation,
        "purl": p.purl,
        "sourceName": p.source_name,
    }


def _evidence_json(e: MatchEvidence) -> dict[str, Any]:
    return {
        "advisory": e.advisory,
        "package": e.package,
        "searchedBy": e.searched_by,
        "ecosystem": e.ecosystem,
        "name": e.name,
        "version": e.version,
        "scheme": e.scheme,
        "via": e.via,
        "introduced": e.introduced,
        "fixed": e.fixed,
        "lastAffected": e.last_affected,
    }


def detail_json(detail: FindingDetail) -> dict[str, Any]:
    """The Inspector-shaped detail document, in the canonical key order."""
    first = detail.cvss[0] if detail.cvss else None
    return {
        "title": detail.title,
        "description": detail.description,
        "type": FINDING_TYPE,
        "inspectorScore": detail.inspector_score,
        "inspectorScoreDetails": None
        if first is None
        else {
            "adjustedCvss": {
                **_cvss_json(first),
                "adjustments": [],
                "cvssSource": first.source,
                "scoreSource": first.source,
                "score": detail.inspector_score,
            }
        },
        "exploitAvailable": detail.exploit_available,
        "epss": None if detail.epss_score is None else {"score": detail.epss_score},
        "fixAvailable": detail.fix_available,
        "packageVulnerabilityDetails": {
            "vulnerabilityId": detail.vulnerability_id,
            "source": detail.source,
            "sourceUrl": detail.source_url,
            "vendorSeverity": detail.vendor_severity,
            "cvss": [_cvss_json(c) for c in detail.cvss],
            "referenceUrls": list(detail.reference_urls),
            "relatedVulnerabilities": list(detail.related_vulnerabilities),
            "vulnerablePackages": [_package_json(p) for p in detail.packages],
        },
        "remediation": {"recommendation": {"text": detail.recommendation}},
        "evidence": [_evidence_json(e) for e in detail.evidence],
    }


def _list(value: Any) -> Sequence[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _parse(doc: Mapping[str, Any]) -> FindingDetail:
    pvd = doc["packageVulnerabilityDetails"]
    epss = doc["epss"]
    return FindingDetail(
        title=doc["title"],
        description=doc["description"],
        inspector_score=doc["inspectorScore"],
        exploit_available=doc["exploitAvailable"],
        epss_score=None if epss is None else epss["score"],
        fix_available=doc["fixAvailable"],
        vulnerability_id=pvd["vulnerabilityId"],
        source=pvd["source"],
        source_url=pvd["sourceUrl"],
        vendor_severity=pvd["vendorSeverity"],
        cvss=tuple(
            Cvss(c["baseScore"], c["scoringVector"], c["source"], c["version"])
            for c in _list(pvd["cvss"])
        ),
        reference_urls=tuple(_list(pvd["referenceUrls"])),
        related_vulnerabilities=tuple(_list(pvd["relatedVulnerabilities"])),
        packages=tuple(
            VulnerablePackage(
                name=p["name"],
                version=p["version"],
                epoch=p["epoch"],
                release=p["release"],
                arch=p["arch"],
                package_manager=p["packageManager"],
                file_path=p["filePath"],
                source_layer_hash=p["sourceLayerHash"],
                fixed_in_version=p["fixedInVersion"],
                remediation=p["remediation"],
                purl=p["purl"],
                source_name=p["sourceName"],
            )
            for p in _list(pvd["vulnerablePackages"])
        ),
        evidence=tuple(
            MatchEvidence(
                advisory=e["advisory"],
                package=e["package"],
                searched_by=e["searchedBy"],
                ecosystem=e["ecosystem"],
                name=e["name"],
                version=e["version"],
                scheme=e["scheme"],
                via=e["via"],
                introduced=e["introduced"],
                fixed=e["fixed"],
                last_affected=e["lastAffected"],
            )
            for e in _list(doc["evidence"])
        ),
    )
