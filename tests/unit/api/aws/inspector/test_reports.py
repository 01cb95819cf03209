"""CreateFindingsReport, GetFindingsReportStatus and CancelFindingsReport through the Inspector2
handlers: CSV and JSON reports written to the local reports folder, a bucket per folder."""

from __future__ import annotations

import csv
import io
import json

import pytest

from dockwatch.api.aws.errors import AwsError

from .conftest import MEMBER, OUTSIDER, Org, call, expected_findings

pytestmark = pytest.mark.anyio
KMS = "arn:aws:kms:us-east-1:333333333333:key/test"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_reports_are_written_per_bucket_and_read_back(org: Org) -> None:
    services = org[MEMBER]
    root = services.settings.effective_reports_dir
    dest = {"bucketName": "audit-bucket", "keyPrefix": "inspector/weekly", "kmsKeyArn": KMS}
    made = await call(
        services, "CreateFindingsReport", {"reportFormat": "JSON", "s3Destination": dest}
    )
    status = await call(services, "GetFindingsReportStatus", {"reportId": made["reportId"]})
    assert (status["status"], status["destination"]) == ("SUCCEEDED", dest)
    written = json.loads(
        (root / "audit-bucket/inspector/weekly" / f"{made['reportId']}.json").read_text()
    )
    got = {(f["resources"][0]["details"]["awsEcrContainerImage"]["repositoryName"],
            f["packageVulnerabilityDetails"]["vulnerabilityId"]) for f in written["findings"]}  # fmt: skip
    assert got == expected_findings(MEMBER)
    tools = {"ecrImageRepositoryName": [{"comparison": "EQUALS", "value": "tools"}]}
    made = await call(services, "CreateFindingsReport", {
        "reportFormat": "CSV", "filterCriteria": tools, "s3Destination": {**dest, "keyPrefix": ""}})  # fmt: skip
    rows = list(
        csv.DictReader(io.StringIO((root / "audit-bucket" / f"{made['reportId']}.csv").read_text()))
    )
    assert len(rows) == len([1 for repo, _ in expected_findings(MEMBER) if repo == "tools"])
    assert "PYSEC-9-3" in "".join(rows[0].values())
    status = await call(services, "GetFindingsReportStatus", {"reportId": made["reportId"]})
    assert status["filterCriteria"] == tools
    with pytest.raises(AwsError) as finished:
        await call(services, "CancelFindingsReport", {"reportId": made["reportId"]})
    assert finished.value.code == "ValidationException"
    with pytest.raises(AwsError) as other:  # another account's report is not there for it
        await call(org[OUTSIDER], "GetFindingsReportStatus", {"reportId": made["reportId"]})
    assert (other.value.code, other.value.status) == ("ResourceNotFoundException", 404)
    nothing = {"vulnerabilityId": [{"comparison": "EQUALS", "value": "CVE-0000-0"}]}
    made = await call(services, "CreateFindingsReport",
                      {"reportFormat": "CSV", "filterCriteria": nothing, "s3Destination": dest})  # fmt: skip
    status = await call(services, "GetFindingsReportStatus", {"reportId": made["reportId"]})
    assert (status["status"], status["errorCode"]) == ("FAILED", "NO_FINDINGS_FOUND")
    for bad in ({**dest, "bucketName": "../escape"}, {**dest, "keyPrefix": "a/../../b"}):
        with pytest.raises(AwsError) as refused:
            await call(
                services, "CreateFindingsReport", {"reportFormat": "CSV", "s3Destination": bad}
            )
        assert refused.value.code == "ValidationException"
