"""CycloneDX 1.6 with vulnerabilities, validated with cyclonedx-python-lib's 1.6 schema."""

from __future__ import annotations

import json
from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from dockwatch.reports.findings import cyclonedx

from .sample import DIGEST, context, expected_pairs, findings


def _doc() -> dict[str, Any]:
    text = cyclonedx.render(findings(), context())
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    doc: dict[str, Any] = json.loads(text)
    return doc


def test_validates_against_1_6() -> None:
    doc = _doc()
    assert doc["specVersion"] == "1.6"


def test_validator_is_not_vacuous() -> None:
    doc = json.loads(cyclonedx.render(findings(), context()))
    doc["vulnerabilities"][0]["analysis"]["state"] = "maybe"
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc)) is not None


def test_vulnerabilities_affect_the_package_components() -> None:
    items = findings()
    doc = _doc()
    components = {c["bom-ref"]: c for c in doc["components"]}
    got = []
    status_of = {
        v["bom-ref"]: next(p["value"] for p in v["properties"] if p["name"] == "dockwatch:status")
        for v in doc["vulnerabilities"]
    }
    for v in doc["vulnerabilities"]:
        fixed = {
            p["name"].rsplit(":", 1)[1]: p["value"]
            for p in v["properties"]
            if p["name"].startswith("dockwatch:fixedInVersion:")
        }
        for a in v["affects"]:
            c = components[a["ref"]]  # every affects ref names a component
            assert c["purl"].startswith("pkg:")
            name = f"{c['group']}:{c['name']}" if "group" in c else c["name"]
            fix = fixed[a["ref"]]
            got.append(
                (
                    v["id"],
                    name,
                    c["version"],
                    None if fix == "NotAvailable" else fix,
                    status_of[v["bom-ref"]],
                )
            )
    assert sorted(got, key=str) == sorted(
        [(p[0], p[1], p[2], p[3], p[5]) for p in expected_pairs(items)], key=str
    )
    assert doc["metadata"]["component"]["version"] == DIGEST
    assert doc["metadata"]["component"]["purl"].startswith("pkg:oci/app@sha256")


def test_vex_states_follow_status() -> None:
    doc = _doc()
    by_id = {v["id"]: v for v in doc["vulnerabilities"]}
    assert by_id["CVE-2024-0001"]["analysis"]["state"] == "in_triage"
    suppressed = by_id["CVE-2024-0003"]["analysis"]
    assert suppressed["state"] == "not_affected"
    assert suppressed["justification"] == "code_not_reachable"
    assert "never load untrusted YAML" in suppressed["detail"]
    assert by_id["CVE-2024-0003"]["affects"][0]["versions"][0]["status"] == "unaffected"
    assert by_id["CVE-2023-0004"]["analysis"]["state"] == "resolved"


def test_ratings_carry_cvss_and_the_chosen_severity() -> None:
    doc = _doc()
    v = next(v for v in doc["vulnerabilities"] if v["id"] == "CVE-2024-0001")
    methods = {r["method"]: r for r in v["ratings"]}
    assert methods["CVSSv31"]["score"] == 9.8
    assert methods["CVSSv31"]["severity"] == "critical"
    assert methods["other"]["severity"] == "critical"
    assert {r["id"] for r in v["references"]} == {"GHSA-xxxx-yyyy-zzzz", "PYSEC-2024-1"}


def test_database_in_metadata() -> None:
    doc = _doc()
    props = {p["name"]: p["value"] for p in doc["metadata"]["properties"]}
    assert props["dockwatch:database:version"] == "42"
    assert props["dockwatch:database:ageDays"] == "9"


def test_same_input_same_bytes() -> None:
    assert cyclonedx.render(findings(), context()) == cyclonedx.render(findings(), context())
