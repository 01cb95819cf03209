"""SARIF 2.1.0, validated against the OASIS schema kept in tests/data/export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dockwatch.reports.findings import sarif

from .sample import context, expected_pairs, findings

SCHEMA = Path(__file__).resolve().parents[3] / "data" / "export" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    checker = cls.FORMAT_CHECKER
    return cls(schema, format_checker=checker)


def test_the_stored_schema_is_sarif_2_1_0() -> None:
    schema = json.loads(SCHEMA.read_text())
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"


def test_validates(validator: Any) -> None:
    doc = json.loads(sarif.render(findings(), context()))
    errors = sorted(validator.iter_errors(doc), key=str)
    assert errors == []


def test_validator_catches_a_broken_log(validator: Any) -> None:
    """The schema check is not vacuous: a wrong level is refused."""
    doc = json.loads(sarif.render(findings(), context()))
    doc["runs"][0]["results"][0]["level"] = "fatal"
    assert list(validator.iter_errors(doc))


def test_one_rule_per_vulnerability_one_result_per_package() -> None:
    items = findings()
    doc = json.loads(sarif.render(items, context()))
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    active = expected_pairs(items, statuses=("ACTIVE",))
    assert sorted(r["id"] for r in rules) == sorted({p[0] for p in active})
    got = sorted(
        (
            r["ruleId"],
            r["properties"]["packageName"],
            r["properties"]["packageVersion"],
            r["properties"].get("fixedInVersion"),
            r["properties"]["severity"],
            "ACTIVE",
        )
        for r in run["results"]
    )
    assert got == active  # suppressed and closed findings are left out
    for r in run["results"]:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["level"] == {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning"}.get(
            r["properties"]["severity"], "note"
        )
    fingerprints = [next(iter(r["partialFingerprints"].values())) for r in run["results"]]
    assert len(set(fingerprints)) == len(fingerprints)


def test_security_severity_and_database() -> None:
    doc = json.loads(sarif.render(findings(), context()))
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["CVE-2024-0001"]["properties"]["security-severity"] == "9.8"
    assert rules["CVE-2024-0002"]["properties"]["security-severity"] == "5.5"  # band, no score
    assert "security-severity" not in rules["PYSEC-2024-5"]["properties"]  # UNTRIAGED
    assert doc["runs"][0]["properties"]["database"]["version"] == 42


def test_uris_are_uri_references() -> None:
    doc = json.loads(sarif.render(findings(), context()))
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in doc["runs"][0]["results"]
    ]
    assert "opt/app%20x/evil.dist-info/METADATA" in uris
    assert all(" " not in u and not u.startswith("/") for u in uris)
