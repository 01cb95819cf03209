"""Coverage, coverage statistics, the configuration and image listings through a real server
process: images pushed over HTTP, the worker scanning them, every answer checked against
botocore's model of the operation it reproduces."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx

from tests.builders.http_push import push_built_image
from tests.builders.layers import Image, make_image, make_layer
from tests.support.botocore_shapes import assert_output, assert_shape
from tests.support.servers import Server


def _image(seed: str) -> Image:
    meta = "Metadata-Version: 2.1\nName: gamma\nVersion: 1.0\n"
    path = "usr/lib/python3/site-packages/gamma-1.0.dist-info/METADATA"
    return make_image([make_layer({path: meta, "seed": seed})])


def _until(check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def _listing(c: httpx.Client, criteria: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    body: dict[str, Any] = {"filterCriteria": criteria, "maxResults": 2}
    while True:
        page = c.post("/api/v1/coverage/list", json=body).json()
        assert_output("inspector2", "ListCoverage", page)
        out += page["coveredResources"]
        if "nextToken" not in page:
            return out
        body["nextToken"] = page["nextToken"]


def test_coverage_and_scan_fields_over_http(dockwatch: Server) -> None:
    with dockwatch.client() as c:
        rules = {
            "scanType": "ENHANCED",
            "rules": [
                {
                    "scanFrequency": "CONTINUOUS_SCAN",
                    "repositoryFilters": [{"filter": "app-*", "filterType": "WILDCARD"}],
                }
            ],
        }
        assert c.put("/api/v1/registry/scanning-configuration", json=rules).status_code == 200
        digests = {push_built_image(c, f"app-{i}", _image(str(i)), ["v1"]) for i in range(3)}
        push_built_image(c, "other", _image("o"), ["v1"])

        def scanned() -> bool:
            items = _listing(c, {"scanStatusReason": [{"comparison": "EQUALS", "value": "SUCCESSFUL"}],
                                 "resourceType": [{"comparison": "EQUALS", "value": "AWS_ECR_CONTAINER_IMAGE"}]})  # fmt: skip
            return {i["resourceId"].rsplit("/", 1)[1] for i in items} >= digests

        _until(scanned)
        everything = _listing(c, {})
        repositories = {
            i["resourceMetadata"]["ecrRepository"]["name"]: i["scanStatus"]["reason"]
            for i in everything
            if i["resourceType"] == "AWS_ECR_REPOSITORY"
        }
        assert repositories == {
            "app-0": "SUCCESSFUL",
            "app-1": "SUCCESSFUL",
            "app-2": "SUCCESSFUL",
            "other": "SCAN_FREQUENCY_MANUAL",
        }
        r = c.post("/api/v1/coverage/statistics/list", json={"groupBy": "RESOURCE_TYPE"})
        stats = r.json()
        assert_output("inspector2", "ListCoverageStatistics", stats, open_enums={"GroupKey"})
        assert {g["groupKey"]: g["count"] for g in stats["countsByGroup"]} == dict(
            Counter(i["resourceType"] for i in everything)
        )
        bad = c.post(
            "/api/v1/coverage/list",
            json={
                "filterCriteria": {"ecrRepositoryName": [{"comparison": "PREFIX", "value": "a"}]}
            },
        )
        assert bad.status_code == 400
        assert "filterCriteria.ecrRepositoryName[0].comparison" in bad.json()["message"]

        configuration = c.get("/api/v1/configuration").json()
        assert_output("inspector2", "GetConfiguration", configuration)
        assert configuration["ecrConfiguration"]["rescanDurationState"]["status"] == "SUCCESS"

        details = c.get("/api/v1/repositories/app-0/images").json()["imageDetails"]
        assert_shape(
            "ecr", "ImageDetail", {k: v for k, v in details[0].items() if k != "lastPushedAt"}
        )
        assert details[0]["imageScanStatus"]["status"] == "ACTIVE"
        batch = c.post(
            "/api/v1/repositories/scanning-configuration/batch-get",
            json={"repositoryNames": ["app-0", "nope"]},
        ).json()
        assert_output("ecr", "BatchGetRepositoryScanningConfiguration", batch)
        assert [s["scanFrequency"] for s in batch["scanningConfigurations"]] == ["CONTINUOUS_SCAN"]
        assert [f["failureCode"] for f in batch["failures"]] == ["REPOSITORY_NOT_FOUND"]
