"""CreateSbomExport and GetSbomExport through the Inspector2 handlers: one SBOM per covered
image meeting the filters, naming the packages the pushed images hold (conftest)."""

from __future__ import annotations

import json

import pytest

from dockwatch.api.aws.errors import AwsError

from .conftest import IMAGES, MEMBER, OUTSIDER, Org, call

pytestmark = pytest.mark.anyio
DEST = {"bucketName": "sboms", "keyPrefix": "weekly", "kmsKeyArn": "arn:aws:kms:us-east-1:1:key/k"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_sbom_exports_name_each_image_and_its_packages(org: Org) -> None:
    services = org[MEMBER]
    api_only = {"ecrRepositoryName": [{"comparison": "EQUALS", "value": "api"}]}
    made = await call(services, "CreateSbomExport", {
        "reportFormat": "CYCLONEDX_1_4", "resourceFilterCriteria": api_only, "s3Destination": DEST})  # fmt: skip
    status = await call(services, "GetSbomExport", {"reportId": made["reportId"]})
    assert (status["status"], status["format"], status["s3Destination"]) == (
        "SUCCEEDED",
        "CYCLONEDX_1_4",
        DEST,
    )
    folder = services.settings.effective_reports_dir / "sboms/weekly" / made["reportId"] / MEMBER
    [written] = list(folder.rglob("*.json"))
    assert written.parent.name == "api"
    doc = json.loads(written.read_text())
    assert doc["bomFormat"] == "CycloneDX"
    assert {(c["name"], c["version"]) for c in doc["components"] if c.get("name") == "alpha"} == {
        ("alpha", "1.0")
    }
    made = await call(
        services, "CreateSbomExport", {"reportFormat": "SPDX_2_3", "s3Destination": DEST}
    )
    folder = services.settings.effective_reports_dir / "sboms/weekly" / made["reportId"] / MEMBER
    names = {}
    for path in folder.rglob("*.json"):
        doc = json.loads(path.read_text())
        names[path.parent.name] = {p["name"] for p in doc["packages"]}
    assert {
        repo: package in names[repo] for repo, package in IMAGES[MEMBER].items()
    } == dict.fromkeys(IMAGES[MEMBER], True)
    with pytest.raises(AwsError) as other:
        await call(org[OUTSIDER], "GetSbomExport", {"reportId": made["reportId"]})
    assert other.value.code == "ResourceNotFoundException"
    nothing = {"ecrRepositoryName": [{"comparison": "EQUALS", "value": "none-such"}]}
    made = await call(services, "CreateSbomExport", {
        "reportFormat": "SPDX_2_3", "resourceFilterCriteria": nothing, "s3Destination": DEST})  # fmt: skip
    assert (await call(services, "GetSbomExport", {"reportId": made["reportId"]}))[
        "status"
    ] == "FAILED"
