"""ASFF records, checked against the `AwsSecurityFinding` shape of botocore's model."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dockwatch.reports.findings import asff

from .botocore_shape import securityhub_shape, validate
from .sample import DIGEST, TENANT, context, expected_pairs, findings


@pytest.fixture(scope="module")
def finding_shape() -> Any:
    return securityhub_shape("AwsSecurityFinding")


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(asff.render(findings(), context()))
    return doc


def test_every_record_fits_the_botocore_shape(finding_shape: Any) -> None:
    doc = _doc()
    assert set(doc) == {"Findings"}
    assert len(doc["Findings"]) == len(findings())
    for record in doc["Findings"]:
        assert list(validate(record, finding_shape)) == []


def test_batch_import_findings_input_accepts_the_document() -> None:
    """The whole body fits BatchImportFindings' input shape too."""
    shape = securityhub_shape("BatchImportFindingsRequest")
    assert list(validate(_doc(), shape)) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r.pop("Title"), "missing required Title"),
        (lambda r: r["Workflow"].update(Status="DONE"), "not in"),
        (lambda r: r.update(Title="   "), "does not match"),
        (lambda r: r.update(Confidence="high"), "expected an integer"),
        (lambda r: r.update(Colour="red"), "unknown member Colour"),
        (lambda r: r["Vulnerabilities"][0].update(EpssScore="0.4"), "expected a number"),
        (lambda r: r["FindingProviderFields"].update(Confidence=101), "max 100"),
    ],
)
def test_the_validator_catches_mistakes(finding_shape: Any, change: Any, problem: str) -> None:
    record = _doc()["Findings"][0]
    change(record)
    assert any(problem in p for p in validate(record, finding_shape))


def test_content_follows_the_findings() -> None:
    items = findings()
    doc = _doc()
    got = []
    for r in doc["Findings"]:
        v = r["Vulnerabilities"][0]
        status = {"NEW": "ACTIVE", "SUPPRESSED": "SUPPRESSED", "RESOLVED": "CLOSED"}[
            r["Workflow"]["Status"]
        ]
        for p in v["VulnerablePackages"]:
            fixed = p["FixedInVersion"]
            got.append(
                (
                    v["Id"],
                    p["Name"],
                    p["Version"],
                    None if fixed == "NotAvailable" else fixed,
                    r["Severity"]["Original"],
                    status,
                )
            )
        assert r["AwsAccountId"] == TENANT.account_id
        assert r["ProductArn"] == (
            f"arn:aws:securityhub:{TENANT.region}:{TENANT.account_id}:product/"
            f"{TENANT.account_id}/default"
        )
        assert r["Resources"][0]["Details"]["AwsEcrContainerImage"]["ImageDigest"] == DIGEST
        assert r["RecordState"] == ("ARCHIVED" if status == "CLOSED" else "ACTIVE")
    assert sorted(got, key=str) == expected_pairs(items)
    ids = [r["Id"] for r in doc["Findings"]]
    assert len(set(ids)) == len(ids)


def test_labels_and_notes() -> None:
    by_id = {r["Vulnerabilities"][0]["Id"]: r for r in _doc()["Findings"]}
    assert by_id["PYSEC-2024-5"]["Severity"] == {"Label": "INFORMATIONAL", "Original": "UNTRIAGED"}
    assert by_id["CVE-2024-0001"]["Types"] == [asff.TYPE_CVE]
    assert by_id["GHSA-9999-8888-7777"]["Types"] == [asff.TYPE_OTHER]
    note = by_id["CVE-2024-0003"]["Note"]
    assert "never load untrusted YAML" in note["Text"]
    assert by_id["CVE-2024-0001"]["Vulnerabilities"][0]["EpssScore"] == 0.42
    assert by_id["CVE-2024-0001"]["CreatedAt"].endswith("Z")


def test_long_text_is_cut_to_the_documented_limits(finding_shape: Any) -> None:
    item = findings()[0]
    item["title"] = "T" * 1000
    item["description"] = "D" * 5000
    record = asff.document([item], context())["Findings"][0]
    assert len(record["Title"]) == 256 and len(record["Description"]) == 1024
    assert list(validate(record, finding_shape)) == []
