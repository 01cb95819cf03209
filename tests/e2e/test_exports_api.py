"""Exports from the API: an image's findings and a query's, in every format, validated against
each format's schema or model; the expected (vulnerability, package, fixed) set is computed
here from the advisories the test wrote."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.builders.http_push import push_built_image
from tests.builders.layers import make_image, make_layer
from tests.e2e.test_scan_lifecycle import _advisories
from tests.support.servers import Server
from tests.unit.reports.findings.botocore_shape import securityhub_shape, validate

SARIF = Path(__file__).resolve().parents[1] / "data" / "export" / "sarif-schema-2.1.0.json"
INSTALLED = {"alpha": "1.0", "beta": "2.5", "gamma": "0.9"}
ADVISORIES = [  # (id, alias, package, fixed)
    ("PYSEC-8-1", "CVE-2091-0001", "alpha", "1.5"),
    ("PYSEC-8-2", "CVE-2091-0002", "beta", "3.0"),
    ("PYSEC-8-3", None, "beta", "2.0"),  # beta 2.5 is past this fix: not a finding
    ("PYSEC-8-4", None, "gamma", None),  # no fix known
]


def _record(vid: str, alias: str | None, package: str, fixed: str | None) -> dict[str, Any]:
    events: list[dict[str, str]] = [{"introduced": "0"}]
    if fixed:
        events.append({"fixed": fixed})
    return {
        "id": vid,
        "aliases": [alias] if alias else [],
        "modified": "2026-11-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
    }


def _expected() -> set[tuple[str, str, str | None]]:
    """(vulnerability id, package, fixed version) by comparing versions here."""
    from packaging.version import Version

    out = set()
    for vid, alias, package, fixed in ADVISORIES:
        if fixed is None or Version(INSTALLED[package]) < Version(fixed):
            out.add((alias or vid, package, fixed))
    return out


def _get(c: httpx.Client, path: str, **params: str) -> httpx.Response:
    r = c.get(path, params=params)
    assert r.status_code == 200, r.text
    return r


def test_exports_in_every_format(dockwatch: Server, tmp_path: Path) -> None:
    _advisories(dockwatch, tmp_path, *(_record(*a) for a in ADVISORIES))
    files = {
        f"usr/lib/python3/site-packages/{n}-{v}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {n}\nVersion: {v}\n"
        )
        for n, v in INSTALLED.items()
    }
    with dockwatch.client() as c:
        c.put("/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED", "rules": []})
        digest = push_built_image(c, "exp", make_image([make_layer(files)]), ["v1"])
        deadline = time.monotonic() + 30
        while len(c.get("/api/v1/findings").json()["findings"]) < len(_expected()):
            assert time.monotonic() < deadline, "no findings in time"
            time.sleep(0.1)
        path = "/api/v1/repositories/exp/images/v1/findings/export"
        expected = _expected()

        rows = list(csv.DictReader(io.StringIO(_get(c, path, format="csv").text)))
        got = {(r["vulnerabilityId"], r["packageName"], r["fixedInVersion"] or None) for r in rows}
        assert got == expected

        doc = _get(c, path, format="json").json()
        got = {
            (f["vulnerabilityId"], f["packageName"], f["fixedInVersion"]) for f in doc["findings"]
        }
        assert got == expected
        assert {f["layerDigest"] for f in doc["findings"]} == {
            c.get("/v2/exp/manifests/v1", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).json()["layers"][0]["digest"]
        }  # fmt: skip

        sarif = _get(c, path, format="sarif").json()
        schema = json.loads(SARIF.read_text())
        jsonschema.validators.validator_for(schema)(schema).validate(sarif)
        assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == {v for v, _, _ in expected}

        asff = _get(c, path, format="asff").json()
        shape = securityhub_shape("AwsSecurityFinding")
        for record in asff["Findings"]:
            assert list(validate(record, shape)) == []
        assert len(asff["Findings"]) == len(expected)

        # a suppression rule shows as a VEX analysis in CycloneDX
        r = c.post(
            "/api/v1/suppression-rules",
            json={"action": "SUPPRESS", "name": "gamma-unreachable", "reason": "not loaded",
                  "filterCriteria": {"vulnerabilityId": [{"comparison": "EQUALS", "value": "PYSEC-8-4"}]}},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        text = _get(c, path, format="cyclonedx-json").text
        assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
        states = {v["id"]: v["analysis"]["state"] for v in json.loads(text)["vulnerabilities"]}
        assert states == {"CVE-2091-0001": "in_triage", "CVE-2091-0002": "in_triage",
                          "PYSEC-8-4": "not_affected"}  # fmt: skip

        # a query export: the HIGH-or-above findings of the repository, by digest as well
        by_query = _get(c, "/api/v1/findings/export", format="json", ecrImageHash=digest).json()
        assert {f["vulnerabilityId"] for f in by_query["findings"]} == {v for v, _, _ in expected}

        # bad input: clear 400s
        bad = c.get(path, params={"format": "xml"})
        assert bad.status_code == 400 and "valid formats" in bad.json()["message"]
        bad = c.get("/api/v1/findings/export", params={"format": "csv", "colour": "red"})
        assert bad.status_code == 400
