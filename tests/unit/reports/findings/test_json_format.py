"""The JSON export: the DESIGN.md `scan` contract, checked against the input dicts."""

from __future__ import annotations

import json
from collections import Counter

from dockwatch.reports.findings import json_format

from .sample import DIGEST, LAYER_A, LAYER_B, context, expected_pairs, findings

REQUIRED = {
    "vulnerabilityId",
    "relatedVulnerabilities",
    "packageName",
    "packageVersion",
    "packageType",
    "fixedInVersion",
    "severity",
    "layerDigest",
    "purl",
    "status",
    "findingArn",
    "evidence",
}


def test_round_trip_one_entry_per_vulnerability_and_package() -> None:
    items = findings()
    doc = json.loads(json_format.render(items, context()))
    got = sorted(
        (
            e["vulnerabilityId"],
            e["packageName"],
            e["packageVersion"],
            e["fixedInVersion"],
            e["severity"],
            e["status"],
        )
        for e in doc["findings"]
    )
    assert got == expected_pairs(items)
    for e in doc["findings"]:
        assert REQUIRED <= set(e)


def test_fields_follow_the_input() -> None:
    items = findings()
    by_arn = {f["findingArn"]: f for f in items}
    doc = json.loads(json_format.render(items, context()))
    for e in doc["findings"]:
        f = by_arn[e["findingArn"]]
        d = f["packageVulnerabilityDetails"]
        pkg = next(
            p
            for p in d["vulnerablePackages"]
            if (p["name"], p["version"]) == (e["packageName"], e["packageVersion"])
        )
        assert e["relatedVulnerabilities"] == d["relatedVulnerabilities"]
        assert e["purl"] == pkg["purl"]
        assert e["layerDigest"] == pkg["sourceLayerHash"] in (LAYER_A, LAYER_B)
        assert e["packageType"] == ("deb" if pkg["purl"].startswith("pkg:deb/") else "python")
        # evidence is the part about this package only
        assert all(
            ev["package"].endswith(f"/{pkg['name']}@{pkg['version']}") for ev in e["evidence"]
        )
        assert e.get("suppression") == f.get("suppression")
    unfixed = [e for e in doc["findings"] if e["packageName"] == "urllib3"]
    assert unfixed and unfixed[0]["fixedInVersion"] is None


def test_top_level_names_image_database_and_counts() -> None:
    items = findings()
    doc = json.loads(json_format.render(items, context()))
    assert doc["image"]["digest"] == DIGEST
    assert doc["image"]["tags"] == ["v1"]
    assert doc["database"] == {"version": 42, "updatedAt": "2026-02-20T00:00:00.000Z", "ageDays": 9}
    for status in ("ACTIVE", "SUPPRESSED", "CLOSED"):
        expected = Counter(f["severity"] for f in items if f["status"] == status)
        assert doc["summary"][status] == dict(expected)


def test_order_is_worst_first() -> None:
    doc = json.loads(json_format.render(findings(), context()))
    order = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNTRIAGED"]
    ranks = [order.index(e["severity"]) for e in doc["findings"]]
    assert ranks == sorted(ranks)


def test_no_findings() -> None:
    doc = json.loads(json_format.render([], context()))
    assert doc["findings"] == []
    assert doc["image"]["name"] == "team/app"
