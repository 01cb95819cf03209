"""The typed finding detail: what `findings.build` gives for a known match, its one JSON shape
(key order included), the content hash of that shape, and the exact round trip through a
stored (sorted-key) document."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockwatch.findings.build import build
from dockwatch.match.matcher import Match
from dockwatch.match.matcher import MatchEvidence as Found
from dockwatch.model.digest import Digest
from dockwatch.model.finding import (
    Cvss,
    DetailInvalid,
    FindingDetail,
    MatchEvidence,
    VulnerablePackage,
    detail_json,
)
from dockwatch.model.package import Package
from dockwatch.storage.finding_repo import detail_document

VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8 in FIRST's calculator
OPENSSL = Package(
    "openssl", "3.0.11-1~deb12u2", "deb", "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64",
    layer_digest=Digest("sha256:aa"), locations=("/var/lib/dpkg/status",), source_name="openssl",
    arch="amd64",
)  # fmt: skip
MATCH = Match(
    OPENSSL, "debian", "DSA-1", "3.0.13-1~deb12u1", "affected",
    Found("source package", "Debian:12", "openssl", "3.0.11-1~deb12u2", "dpkg", "range",
          introduced="0", fixed="3.0.13-1~deb12u1"),
)  # fmt: skip
CONTENT = {
    "id": "DSA-1", "aliases": ["CVE-2024-0001"], "summary": "A flaw in openssl.",
    "severities": [["CVSS_V3", VECTOR, "nvd"]], "references": [["WEB", "https://x.test/1"]],
}  # fmt: skip
ENRICHMENT = {"CVE-2024-0001": {"kev": {}, "epss": {"score": 0.5}}}

#: the document the detail of MATCH must render to, written out by hand in the order of the
#: Inspector detail documents dockwatch has always stored
EXPECTED: dict[str, Any] = {
    "title": "CVE-2024-0001 - openssl",
    "description": "A flaw in openssl.",
    "type": "PACKAGE_VULNERABILITY",
    "inspectorScore": 9.8,
    "inspectorScoreDetails": {
        "adjustedCvss": {
            "baseScore": 9.8, "scoringVector": VECTOR, "source": "nvd", "version": "3.1",
            "adjustments": [], "cvssSource": "nvd", "scoreSource": "nvd", "score": 9.8,
        }
    },
    "exploitAvailable": "YES",
    "epss": {"score": 0.5},
    "fixAvailable": "YES",
    "packageVulnerabilityDetails": {
        "vulnerabilityId": "CVE-2024-0001",
        "source": "debian",
        "sourceUrl": "https://x.test/1",
        "vendorSeverity": None,
        "cvss": [{"baseScore": 9.8, "scoringVector": VECTOR, "source": "nvd", "version": "3.1"}],
        "referenceUrls": ["https://x.test/1"],
        "relatedVulnerabilities": ["DSA-1"],
        "vulnerablePackages": [
            {
                "name": "openssl", "version": "3.0.11-1~deb12u2", "epoch": None, "release": None,
                "arch": "amd64", "packageManager": "OS", "filePath": "/var/lib/dpkg/status",
                "sourceLayerHash": "sha256:aa", "fixedInVersion": "3.0.13-1~deb12u1",
                "remediation": "Upgrade openssl to 3.0.13-1~deb12u1",
                "purl": "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64",
                "sourceName": "openssl",
            }
        ],
    },
    "remediation": {"recommendation": {"text": "Upgrade openssl to 3.0.13-1~deb12u1"}},
    "evidence": [
        {
            "advisory": "debian/DSA-1", "package": "deb/openssl@3.0.11-1~deb12u2",
            "searchedBy": "source package", "ecosystem": "Debian:12", "name": "openssl",
            "version": "3.0.11-1~deb12u2", "scheme": "dpkg", "via": "range", "introduced": "0",
            "fixed": "3.0.13-1~deb12u1", "lastAffected": None,
        }
    ],
}  # fmt: skip


def _known() -> FindingDetail:
    drafts = build([MATCH], {("debian", "DSA-1"): CONTENT}, ENRICHMENT)
    assert list(drafts) == ["CVE-2024-0001"]
    return drafts["CVE-2024-0001"].detail


def test_build_gives_a_typed_detail() -> None:
    detail = _known()
    assert detail.cvss == (Cvss(9.8, VECTOR, "nvd", "3.1"),)
    assert [p.fixed_in_version for p in detail.packages] == ["3.0.13-1~deb12u1"]
    assert detail.evidence[0].advisory == "debian/DSA-1"
    assert detail.recommendation == "Upgrade openssl to 3.0.13-1~deb12u1"


def test_detail_json_is_the_inspector_document_in_canonical_order() -> None:
    # unsorted bytes compare key order at every level as well as the values
    assert orjson.dumps(detail_json(_known())) == orjson.dumps(EXPECTED)


def test_content_hash_is_the_sorted_key_json_of_the_document() -> None:
    canonical = orjson.dumps(EXPECTED, option=orjson.OPT_SORT_KEYS)
    ref, doc = detail_document(detail_json(_known()))
    assert doc == canonical
    assert ref == hashlib.sha256(canonical).hexdigest()[:32]


def test_stored_document_parses_back_to_the_same_detail_and_order() -> None:
    detail = _known()
    _ref, stored = detail_document(detail_json(detail))
    read_back = orjson.loads(stored)  # sorted keys, as the store gives it
    assert list(read_back) != list(EXPECTED)
    parsed = FindingDetail.from_json(read_back)
    assert parsed == detail
    assert orjson.dumps(detail_json(parsed)) == orjson.dumps(EXPECTED)


def _mutated(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = orjson.loads(orjson.dumps(EXPECTED))
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("title",), KeyError),
        (("packageVulnerabilityDetails", "vulnerablePackages", 0, "purl"), KeyError),
        (("packageVulnerabilityDetails", "extra"), "kept nowhere"),
        (("type",), "CODE_VULNERABILITY"),
        (("remediation", "recommendation", "text"), "something else"),
        (("inspectorScoreDetails", "adjustedCvss", "score"), 1.0),
        (("inspectorScoreDetails",), None),
        (("epss",), {"score": 0.5, "percentile": 0.9}),
        (("inspectorScore",), 9.8 - 1e-9),
        (("evidence",), "none"),
        (("packageVulnerabilityDetails",), None),
    ],
)
def test_documents_a_detail_cannot_render_are_refused(path: tuple[Any, ...], value: Any) -> None:
    with pytest.raises(DetailInvalid):
        FindingDetail.from_json(_mutated(path, value))


def test_an_integer_score_is_not_taken_for_a_float() -> None:
    doc = _mutated(("inspectorScore",), 10)
    doc["inspectorScoreDetails"]["adjustedCvss"]["score"] = 10.0
    with pytest.raises(DetailInvalid):
        FindingDetail.from_json(doc)


_text = st.text(max_size=8)
_opt = st.none() | _text
_score = st.floats(0, 10, allow_nan=False)
_cvss = st.builds(Cvss, _score, _text, _text, st.sampled_from(["3.1", "3.0", "4.0", "2.0"]))
_packages = st.builds(
    VulnerablePackage, _text, _text, st.none() | st.integers(0, 5), _opt, _opt, _text, _opt, _opt,
    _text, _text, _text, _opt,
)  # fmt: skip
_evidence = st.builds(MatchEvidence, *([_text] * 8), _opt, _opt, _opt)


@st.composite
def _details(draw: st.DrawFn) -> FindingDetail:
    cvss = tuple(draw(st.lists(_cvss, max_size=3)))
    return FindingDetail(
        title=draw(_text), description=draw(_text),
        inspector_score=cvss[0].base_score if cvss else None,
        exploit_available=draw(st.sampled_from(["YES", "NO"])),
        epss_score=draw(st.none() | st.floats(0, 1)),
        fix_available=draw(st.sampled_from(["YES", "NO", "PARTIAL"])),
        vulnerability_id=draw(_text), source=draw(_text), source_url=draw(_opt),
        vendor_severity=draw(_opt), cvss=cvss,
        reference_urls=tuple(draw(st.lists(_text, max_size=3))),
        related_vulnerabilities=tuple(draw(st.lists(_text, max_size=3))),
        packages=tuple(draw(st.lists(_packages, max_size=3))),
        evidence=tuple(draw(st.lists(_evidence, max_size=3))),
    )  # fmt: skip


@given(_details())
def test_any_detail_round_trips_through_its_stored_bytes(detail: FindingDetail) -> None:
    doc = detail_json(detail)
    stored = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    parsed = FindingDetail.from_json(orjson.loads(stored))
    assert parsed == detail
    assert orjson.dumps(detail_json(parsed)) == orjson.dumps(doc)
