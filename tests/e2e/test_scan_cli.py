"""`dockwatch scan IMAGE` run as a user runs it: a subprocess, an image and a database built here.

The image is an OCI layout holding the dist-info of a few old Python packages; the database is
OSV records written by this test and imported with `dockwatch db import`. The expected
(vulnerability, package, fixed version, severity) set is computed here from those records
(introduced/fixed events compared with `packaging`, CVSS scores of well-known vectors mapped to
Inspector's bands), never from dockwatch's output; every format is parsed back and compared
with it, and the machine formats are validated against their schemas.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from packaging.version import Version

from tests.builders.feeds import osv_folder
from tests.builders.layers import make_image, make_layer, write_oci_layout
from tests.support.cli import dockwatch

SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "data" / "export" / "sarif-schema-2.1.0.json"
SITE = "usr/lib/python3.11/site-packages"

#: well-known CVSS 3.1 vectors and their base scores (from the CVSS 3.1 calculator)
CRITICAL_9_8 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
HIGH_7_5 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
MEDIUM_6_1 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"
SCORES = {CRITICAL_9_8: 9.8, HIGH_7_5: 7.5, MEDIUM_6_1: 6.1}

INSTALLED = {"requests": "2.19.0", "urllib3": "1.24.1", "pyyaml": "5.3", "jinja2": "2.11.3"}


def _record(
    osv_id: str,
    package: str,
    events: list[dict[str, str]],
    *,
    aliases: tuple[str, ...] = (),
    vector: str | None = None,
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": osv_id,
        "modified": "2026-01-01T00:00:00Z",
        "aliases": list(aliases),
        "summary": f"{package} flaw {osv_id}",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
        "references": [{"type": "ADVISORY", "url": f"https://example.org/{osv_id}"}],
    }
    if vector is not None:
        rec["severity"] = [{"type": "CVSS_V3", "score": vector}]
    return rec


RECORDS = [
    _record(
        "GHSA-t001-0001-0001",
        "requests",
        [{"introduced": "0"}, {"fixed": "2.20.0"}],
        aliases=("CVE-2018-18074",),
        vector=HIGH_7_5,
    ),
    _record(
        "PYSEC-2019-0002",
        "urllib3",
        [{"introduced": "1.24"}, {"fixed": "1.24.2"}],
        aliases=("CVE-2019-11324",),
        vector=CRITICAL_9_8,
    ),
    _record("GHSA-t003-0003-0003", "urllib3", [{"introduced": "0"}]),  # no fix known
    _record(
        "PYSEC-2021-0004",
        "pyyaml",
        [{"introduced": "5.1"}, {"fixed": "5.4"}],
        aliases=("CVE-2020-14343",),
        vector=MEDIUM_6_1,
    ),
    # not matching: a later range of requests, and a package the image does not have
    _record("GHSA-t005-0005-0005", "requests", [{"introduced": "2.25.0"}, {"fixed": "2.26.0"}]),
    _record("PYSEC-2020-0006", "django", [{"introduced": "0"}, {"fixed": "3.0"}]),
]


def _band(score: float | None) -> str:
    if score is None:
        return "UNTRIAGED"
    return (
        "CRITICAL"
        if score >= 9
        else "HIGH"
        if score >= 7
        else "MEDIUM"
        if score >= 4
        else "LOW"
        if score > 0
        else "INFORMATIONAL"
    )


Triple = tuple[str, str, str | None]


def expected(records: list[dict[str, Any]]) -> dict[Triple, str]:
    """(vulnerability id, package, fixed version) -> severity, from the records alone."""
    out: dict[Triple, str] = {}
    for rec in records:
        cves = [a for a in rec["aliases"] if a.startswith("CVE-")]
        vuln = cves[0] if cves else rec["id"]
        vector = rec.get("severity", [{}])[0].get("score")
        for affected in rec["affected"]:
            name = affected["package"]["name"]
            if name not in INSTALLED:
                continue
            installed = Version(INSTALLED[name])
            events = {k: v for e in affected["ranges"][0]["events"] for k, v in e.items()}
            low = Version(events["introduced"])
            fixed = events.get("fixed")
            if low <= installed and (fixed is None or installed < Version(fixed)):
                out[(vuln, name, fixed)] = _band(SCORES.get(vector) if vector else None)
    return out


EXPECTED = expected(RECORDS)


@dataclass(frozen=True)
class Setup:
    image: str
    digest: str
    data: Path
    root: Path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("scan")
    layers = [
        make_layer(
            {
                f"{SITE}/{name}-{version}.dist-info/METADATA": (
                    f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                )
                for name, version in list(INSTALLED.items())[i : i + 2]
            }
        )
        for i in (0, 2)
    ]
    image = make_image(layers)
    layout = write_oci_layout(root / "img", [image], tag="latest")
    data = root / "data"
    out = dockwatch("db", "import", "--data", str(data), str(osv_folder(root / "osv", RECORDS)))
    assert out.returncode == 0, out.stderr
    yield Setup(f"oci:{layout}:latest", image.digest, data, root)


def scan(setup: Setup, *args: str, env: dict[str, str] | None = None) -> Any:
    return dockwatch("scan", setup.image, "--data", str(setup.data), *args, env=env)


def one_error_line(proc: Any) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("dockwatch: error: ") and "Traceback" not in proc.stderr
    assert proc.stdout == ""
    return str(lines[0])


def test_expected_set_is_not_trivial() -> None:
    assert EXPECTED == {
        ("CVE-2018-18074", "requests", "2.20.0"): "HIGH",
        ("CVE-2019-11324", "urllib3", "1.24.2"): "CRITICAL",
        ("GHSA-t003-0003-0003", "urllib3", None): "UNTRIAGED",
        ("CVE-2020-14343", "pyyaml", "5.4"): "MEDIUM",
    }


def _json(setup: Setup, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = scan(setup, "--format", "json", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def test_json(setup: Setup) -> None:
    doc = _json(setup)
    got = {
        (e["vulnerabilityId"], e["packageName"], e["fixedInVersion"]): e["severity"]
        for e in doc["findings"]
    }
    assert got == EXPECTED
    assert len(doc["findings"]) == len(EXPECTED)
    for e in doc["findings"]:
        assert e["status"] == "ACTIVE"
        assert e["packageType"] == "python"
        assert e["packageVersion"] == INSTALLED[e["packageName"]]
        assert e["purl"] == f"pkg:pypi/{e['packageName']}@{e['packageVersion']}"
        assert e["layerDigest"].startswith("sha256:") and e["evidence"]
    by_vuln = {e["vulnerabilityId"]: e for e in doc["findings"]}
    assert "GHSA-t001-0001-0001" in by_vuln["CVE-2018-18074"]["relatedVulnerabilities"]
    assert doc["image"]["digest"] == setup.digest
    assert doc["database"]["version"] >= 1 and doc["database"]["ageDays"] == 0


def test_table(setup: Setup) -> None:
    proc = scan(setup)
    assert proc.returncode == 0, proc.stderr
    got = {}
    for line in proc.stdout.splitlines():
        cells = line.split()
        if cells and cells[0].startswith(("CVE-", "GHSA-", "PYSEC-")):
            fixed = cells[4] if len(cells) == 7 else None
            got[(cells[0], cells[2], fixed)] = cells[1]
    assert got == EXPECTED
    assert "Vulnerability database: version" in proc.stdout and "(0 days ago)" in proc.stdout
    assert "warning" not in proc.stderr


def test_csv(setup: Setup) -> None:
    proc = scan(setup, "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout, newline="")))
    got = {
        (r["vulnerabilityId"], r["packageName"], r["fixedInVersion"] or None): r["severity"]
        for r in rows
    }
    assert got == EXPECTED and len(rows) == len(EXPECTED)


def test_sarif(setup: Setup) -> None:
    proc = scan(setup, "--format", "sarif")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(doc)
    results = doc["runs"][0]["results"]
    got = {
        (r["ruleId"], r["properties"]["packageName"], r["properties"].get("fixedInVersion")): r[
            "properties"
        ]["severity"]
        for r in results
    }
    assert got == EXPECTED
    rule_ids = [r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]]
    assert sorted(rule_ids) == sorted({k[0] for k in EXPECTED})


def test_cyclonedx(setup: Setup) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    proc = scan(setup, "--format", "cyclonedx-json")
    assert proc.returncode == 0, proc.stderr
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(proc.stdout) is None
    doc = json.loads(proc.stdout)
    components = {c["bom-ref"]: c for c in doc["components"]}
    got = set()
    for v in doc["vulnerabilities"]:
        fixed = {
            p["name"].rsplit(":", 1)[1]: p["value"]
            for p in v["properties"]
            if p["name"].startswith("dockwatch:fixedInVersion:")
        }
        for a in v["affects"]:
            fix = fixed[a["ref"]]
            got.add((v["id"], components[a["ref"]]["name"], None if fix == "NotAvailable" else fix))
        assert v["analysis"]["state"] == "in_triage"
    assert got == set(EXPECTED)


def test_asff(setup: Setup) -> None:
    from tests.unit.reports.findings.botocore_shape import securityhub_shape, validate

    proc = scan(setup, "--format", "asff")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    shape = securityhub_shape("AwsSecurityFinding")
    got = {}
    for record in doc["Findings"]:
        assert list(validate(record, shape)) == []
        v = record["Vulnerabilities"][0]
        for p in v["VulnerablePackages"]:
            fixed = None if p["FixedInVersion"] == "NotAvailable" else p["FixedInVersion"]
            got[(v["Id"], p["Name"], fixed)] = record["Severity"]["Original"]
    assert got == EXPECTED


def test_output_file(setup: Setup) -> None:
    out = setup.root / "out" / "report.json"
    out.parent.mkdir(exist_ok=True)
    proc = scan(setup, "--format", "json", "--output", str(out))
    assert proc.returncode == 0 and proc.stdout == ""
    assert len(json.loads(out.read_text())["findings"]) == len(EXPECTED)
    assert [p.name for p in out.parent.iterdir()] == ["report.json"]


@pytest.mark.parametrize(
    ("threshold", "status"),
    [("CRITICAL", 1), ("critical", 1), ("HIGH", 1), ("UNTRIAGED", 1)],
)
def test_fail_on_reached(setup: Setup, threshold: str, status: int) -> None:
    proc = scan(setup, "--format", "json", "--fail-on", threshold)
    assert proc.returncode == status, proc.stderr
    assert json.loads(proc.stdout)["findings"]  # the report is written either way


def test_fail_on_not_reached(setup: Setup, tmp_path: Path) -> None:
    """Without the CRITICAL urllib3 finding nothing reaches CRITICAL: exit 0."""
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text("ignore:\n  - id: CVE-2019-11324\n    reason: not reachable\n")
    assert scan(setup, "--fail-on", "CRITICAL", "--ignore-file", str(ignore)).returncode == 0
    assert scan(setup, "--fail-on", "HIGH", "--ignore-file", str(ignore)).returncode == 1
    assert scan(setup).returncode == 0  # no --fail-on: findings alone never fail


def test_errors_are_one_line_and_status_2(setup: Setup, tmp_path: Path) -> None:
    missing = dockwatch("scan", f"oci:{tmp_path / 'nothing'}", "--data", str(setup.data))
    assert "index.json" in one_error_line(missing) or "no such" in missing.stderr.lower()
    unknown = scan(setup, "--format", "xml")
    line = one_error_line(unknown)
    for name in ("table", "json", "csv", "sarif", "cyclonedx-json", "asff"):
        assert name in line
    assert "--fail-on" in one_error_line(scan(setup, "--fail-on", "SEVERE"))
    bad_ignore = tmp_path / "bad.yaml"
    bad_ignore.write_text("ignore:\n  - reason: no id\n")
    assert "has no `id`" in one_error_line(scan(setup, "--ignore-file", str(bad_ignore)))
    absent = dockwatch("scan", setup.image, "--data", str(tmp_path / "absent"))
    assert "does not exist" in one_error_line(absent)
    assert not (tmp_path / "absent").exists()  # a scan never creates a data folder
    (tmp_path / "empty").mkdir()
    empty = dockwatch("scan", setup.image, "--data", str(tmp_path / "empty"))
    assert "database" in one_error_line(empty) and "is empty" in empty.stderr


def test_ignore_unfixed(setup: Setup) -> None:
    doc = _json(setup, "--ignore-unfixed")
    got = {(e["vulnerabilityId"], e["packageName"], e["fixedInVersion"]) for e in doc["findings"]}
    assert got == {k for k in EXPECTED if k[2] is not None}


def test_ignore_list_with_valid_and_expired_entries(setup: Setup, tmp_path: Path) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text(
        "ignore:\n"
        "  - id: CVE-2018-18074\n"
        "    package: requests\n"
        "    reason: only talks to our own hosts\n"
        "    expires: 2099-12-31\n"
        "  - id: CVE-2020-14343\n"
        "    reason: temporary\n"
        f"    expires: {yesterday}\n"
    )
    proc = scan(setup, "--format", "json", "--ignore-file", str(ignore))
    assert proc.returncode == 0, proc.stderr
    statuses = {e["vulnerabilityId"]: e for e in json.loads(proc.stdout)["findings"]}
    assert set(statuses) == {k[0] for k in EXPECTED}  # suppressed findings stay listed
    assert statuses["CVE-2018-18074"]["status"] == "SUPPRESSED"
    assert statuses["CVE-2018-18074"]["suppression"]["reason"] == "only talks to our own hosts"
    assert statuses["CVE-2020-14343"]["status"] == "ACTIVE"  # expired: reported again
    assert "warning" in proc.stderr and "CVE-2020-14343" in proc.stderr
    assert f"expired on {yesterday}" in proc.stderr
    table = scan(setup, "--ignore-file", str(ignore))
    assert "CVE-2018-18074" not in table.stdout and "CVE-2020-14343" in table.stdout
    assert "1 suppressed not shown" in table.stdout
    cdx = json.loads(scan(setup, "--format", "cyclonedx-json", "--ignore-file", str(ignore)).stdout)
    states = {v["id"]: v["analysis"] for v in cdx["vulnerabilities"]}
    assert states["CVE-2018-18074"]["state"] == "not_affected"
    assert "only talks to our own hosts" in states["CVE-2018-18074"]["detail"]
    sarif = json.loads(scan(setup, "--format", "sarif", "--ignore-file", str(ignore)).stdout)
    assert "CVE-2018-18074" not in {r["ruleId"] for r in sarif["runs"][0]["results"]}


def test_openvex_for_this_image(setup: Setup, tmp_path: Path) -> None:
    vex = tmp_path / "vex.json"
    vex.write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "@id": "https://example.org/vex/1",
                "author": "test",
                "timestamp": "2026-01-01T00:00:00Z",
                "version": 1,
                "statements": [
                    {
                        "vulnerability": {"name": "CVE-2019-11324"},
                        "products": [
                            {
                                "@id": f"pkg:oci/img@{setup.digest.replace(':', '%3A')}",
                                "subcomponents": [{"@id": "pkg:pypi/urllib3@1.24.1"}],
                            }
                        ],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_in_execute_path",
                    },
                    {  # about another image: no effect
                        "vulnerability": {"name": "CVE-2020-14343"},
                        "products": [{"@id": "pkg:oci/other@sha256%3A" + "0" * 64}],
                        "status": "not_affected",
                        "justification": "component_not_present",
                    },
                ],
            }
        )
    )
    doc = _json(setup, "--ignore-file", str(vex))
    status = {e["vulnerabilityId"]: e["status"] for e in doc["findings"]}
    assert status["CVE-2019-11324"] == "SUPPRESSED"
    assert status["CVE-2020-14343"] == "ACTIVE"
    proc = scan(setup, "--fail-on", "CRITICAL", "--ignore-file", str(vex))
    assert proc.returncode == 0, proc.stderr


def test_stale_database_warns(setup: Setup) -> None:
    later = (datetime.now(UTC) + timedelta(days=9)).isoformat()
    env = {"DOCKWATCH_TEST_MODE": "1"}
    doc_proc = scan(setup, "--format", "json", "--now", later, env=env)
    assert doc_proc.returncode == 0, doc_proc.stderr
    assert json.loads(doc_proc.stdout)["database"]["ageDays"] == 9
    assert "vulnerability database is 9 days old" in doc_proc.stderr
    table = scan(setup, "--now", later, env=env)
    assert "(9 days ago)" in table.stdout
    fresh = scan(setup, "--format", "json")
    assert "days old" not in fresh.stderr


def test_now_needs_test_mode(setup: Setup) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DOCKWATCH_TEST_MODE"}
    env["DOCKWATCH_TEST_MODE"] = "0"
    proc = scan(setup, "--now", datetime.now(UTC).isoformat(), env=env)
    assert "test hook" in one_error_line(proc)
