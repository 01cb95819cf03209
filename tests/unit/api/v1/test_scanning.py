"""Scanning endpoints over a real store: GetConfiguration's rescanDurationState, the scan fields
of image listings (DescribeImages), BatchGetRepositoryScanningConfiguration, and a scan seen
while it runs. Shapes are checked against botocore's model."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest

from dockwatch.app import Services
from dockwatch.clock import ControlledClock
from dockwatch.model.digest import Digest
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.builders.layers import Layer, make_image, make_layer
from tests.builders.push import push_image
from tests.support.botocore_shapes import assert_output, assert_shape

pytestmark = pytest.mark.anyio


def _python_layer(name: str, version: str, salt: str) -> Layer:
    path = f"usr/lib/python3/site-packages/{name}-{version}.dist-info/METADATA"
    return make_layer(
        {path: f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", "salt": salt}
    )


def _advisories(services: Services, tmp_path: Path) -> None:
    folder = tmp_path / "osv"
    folder.mkdir()
    for vid, fixed in (("PYSEC-8-1", "2.0"), ("PYSEC-8-2", "3.0")):
        record = {
            "id": vid,
            "modified": "2026-11-01T00:00:00Z",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "alpha"},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                    ],
                }
            ],
        }
        (folder / f"{vid}.json").write_text(json.dumps(record))
    import_paths(VulnDb(services.store, services.clock), [folder])


def _rules(*rules: tuple[str, str]) -> dict[str, Any]:
    return {
        "scanType": "ENHANCED",
        "rules": [
            {"scanFrequency": f, "repositoryFilters": [{"filter": p, "filterType": "WILDCARD"}]}
            for f, p in rules
        ],
    }


async def test_get_configuration_has_the_rescan_duration_state(
    api: httpx.AsyncClient, services: Services
) -> None:
    first = (await api.get("/api/v1/configuration")).json()
    assert_output("inspector2", "GetConfiguration", first)
    assert first == {
        "ecrConfiguration": {
            "rescanDurationState": {"rescanDuration": "LIFETIME", "status": "SUCCESS"}
        }
    }
    assert isinstance(services.clock, ControlledClock)
    before = services.clock.advance(timedelta(days=3))  # updatedAt follows the server's clock
    wanted = {
        "rescanDuration": "DAYS_30",
        "pullDateRescanDuration": "DAYS_14",
        "pullDateRescanMode": "LAST_IN_USE_AT",
    }
    assert (await api.put("/api/v1/configuration", json={"ecrConfiguration": wanted})).is_success
    after = services.clock.now()
    got = (await api.get("/api/v1/configuration")).json()
    assert_output("inspector2", "GetConfiguration", got)
    state = got["ecrConfiguration"]["rescanDurationState"]
    assert {k: state[k] for k in wanted} == wanted and state["status"] == "SUCCESS"
    assert before <= datetime.fromisoformat(state["updatedAt"]) <= after


async def test_image_listings_carry_scan_status_and_findings_summary(
    api: httpx.AsyncClient, services: Services, tmp_path: Path
) -> None:
    _advisories(services, tmp_path)
    services.scanner.put_scanning_configuration(_rules())
    vulnerable = push_image(
        services, "shop", make_image([_python_layer("alpha", "1.0", "a")]), "v1"
    )
    clean = push_image(services, "shop", make_image([_python_layer("beta", "1.0", "b")]), "v2")
    services.worker.drain()
    pending = push_image(services, "shop", make_image([_python_layer("alpha", "1.0", "c")]), "v3")
    services.worker.dispatch()
    details = {
        d["imageDigest"]: d
        for d in (await api.get("/api/v1/repositories/shop/images")).json()["imageDetails"]
    }
    for d in details.values():
        assert_shape("ecr", "ImageDetail", {k: v for k, v in d.items() if k != "lastPushedAt"})
    for digest in (vulnerable, clean):
        d = details[digest]
        findings = (await api.get(f"/api/v1/repositories/shop/images/{digest}/findings")).json()
        active = [
            f for f in findings["imageScanFindings"]["enhancedFindings"] if f["status"] == "ACTIVE"
        ]
        # ECR's severity keys say UNDEFINED where Inspector says UNTRIAGED
        expected = Counter(
            "UNDEFINED" if f["severity"] == "UNTRIAGED" else f["severity"] for f in active
        )
        summary = d["imageScanFindingsSummary"]
        assert summary["findingSeverityCounts"] == dict(expected)
        assert d["imageScanStatus"]["status"] == "ACTIVE"
        completed = datetime.fromisoformat(summary["imageScanCompletedAt"])
        assert datetime.fromisoformat(summary["vulnerabilitySourceUpdatedAt"]) <= completed
    assert (
        sum(details[vulnerable]["imageScanFindingsSummary"]["findingSeverityCounts"].values()) == 2
    )
    assert details[clean]["imageScanFindingsSummary"]["findingSeverityCounts"] == {}
    assert details[pending]["imageScanStatus"]["status"] == "PENDING"
    assert "imageScanCompletedAt" not in details[pending]["imageScanFindingsSummary"]


async def test_basic_scans_show_complete_in_listings(
    api: httpx.AsyncClient, services: Services
) -> None:
    services.scanner.put_scanning_configuration(
        {
            "scanType": "BASIC",
            "rules": [
                {
                    "scanFrequency": "SCAN_ON_PUSH",
                    "repositoryFilters": [{"filter": "basic", "filterType": "WILDCARD"}],
                }
            ],
        }
    )
    scanned = push_image(services, "basic", make_image([_python_layer("alpha", "1.0", "x")]), "v1")
    never = push_image(services, "other", make_image([_python_layer("alpha", "1.0", "y")]), "v1")
    services.worker.drain()
    d = (await api.get("/api/v1/repositories/basic/images")).json()["imageDetails"][0]
    assert d["imageDigest"] == scanned and d["imageScanStatus"]["status"] == "COMPLETE"
    findings = (await api.get(f"/api/v1/repositories/basic/images/{scanned}/findings")).json()
    assert (
        d["imageScanFindingsSummary"]["findingSeverityCounts"]
        == findings["imageScanFindings"]["findingSeverityCounts"]
    )
    assert_shape("ecr", "ImageScanFindingsSummary", d["imageScanFindingsSummary"])
    other = (await api.get("/api/v1/repositories/other/images")).json()["imageDetails"][0]
    assert other["imageDigest"] == never  # never scanned: no scan fields, as in ECR
    assert "imageScanStatus" not in other and "imageScanFindingsSummary" not in other


async def test_batch_get_repository_scanning_configuration(
    api: httpx.AsyncClient, services: Services
) -> None:
    services.scanner.put_scanning_configuration(
        _rules(("CONTINUOUS_SCAN", "prod-*"), ("SCAN_ON_PUSH", "ci"))
    )
    for repo in ("prod-a", "ci-tools", "scratch"):
        push_image(services, repo, make_image([_python_layer("beta", "1.0", repo)]), "v1")
    names = ["prod-a", "ci-tools", "scratch", "missing", "prod-a"]
    r = await api.post(
        "/api/v1/repositories/scanning-configuration/batch-get", json={"repositoryNames": names}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert_output("ecr", "BatchGetRepositoryScanningConfiguration", body)
    arn = f"arn:aws:ecr:{services.tenant.region}:{services.tenant.account_id}:repository/"
    assert body["scanningConfigurations"] == [
        {"repositoryArn": arn + "prod-a", "repositoryName": "prod-a", "scanOnPush": True, "scanFrequency": "CONTINUOUS_SCAN", "appliedScanFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}]},
        {"repositoryArn": arn + "ci-tools", "repositoryName": "ci-tools", "scanOnPush": True, "scanFrequency": "SCAN_ON_PUSH", "appliedScanFilters": [{"filter": "ci", "filterType": "WILDCARD"}]},
        {"repositoryArn": arn + "scratch", "repositoryName": "scratch", "scanOnPush": False, "scanFrequency": "MANUAL", "appliedScanFilters": []},
    ]  # fmt: skip
    assert [(f["repositoryName"], f["failureCode"]) for f in body["failures"]] == [
        ("missing", "REPOSITORY_NOT_FOUND")
    ]
    bad: dict[str, Any]
    for bad in (
        {"repositoryNames": []},
        {"repositoryNames": [f"r{i}" for i in range(26)]},
        {"repositoryNames": "prod-a"},
        {},
    ):
        r = await api.post("/api/v1/repositories/scanning-configuration/batch-get", json=bad)
        assert r.status_code == 400 and "repositoryNames" in r.json()["message"]


async def test_a_scan_in_progress_shows_in_coverage_and_listings(
    api: httpx.AsyncClient, services: Services
) -> None:
    """The worker is held inside its first layer read: while it is there, coverage says
    ACTIVE / SCAN_IN_PROGRESS and the image listing IN_PROGRESS; released, SUCCESSFUL."""
    services.scanner.put_scanning_configuration(_rules())
    image = make_image([_python_layer("beta", "1.0", "held")])
    digest = push_image(services, "held", image, "v1")
    layers = {Digest(layer.digest) for layer in image.layers}
    blobs = services.registry.ctx.blobs
    original = blobs.open
    inside, release = threading.Event(), threading.Event()

    def held_open(d: Digest, offset: int = 0) -> BinaryIO:
        if d in layers:
            inside.set()
            release.wait(60)
        return original(d, offset)

    blobs.open = held_open  # type: ignore[method-assign,assignment]
    worker = threading.Thread(target=services.worker.drain)
    services.worker.dispatch()
    worker.start()
    try:
        assert inside.wait(60), "the worker never read the layer"

        async def status() -> tuple[dict[str, Any], str]:
            body = {
                "filterCriteria": {
                    "resourceType": [{"comparison": "EQUALS", "value": "AWS_ECR_CONTAINER_IMAGE"}]
                }
            }
            covered = (await api.post("/api/v1/coverage/list", json=body)).json()[
                "coveredResources"
            ]
            listed = (await api.get("/api/v1/repositories/held/images")).json()["imageDetails"]
            assert [c["resourceId"].rsplit("/", 1)[1] for c in covered] == [digest]
            return covered[0]["scanStatus"], listed[0]["imageScanStatus"]["status"]

        assert await status() == (
            {"statusCode": "ACTIVE", "reason": "SCAN_IN_PROGRESS"},
            "IN_PROGRESS",
        )
    finally:
        release.set()
        worker.join(60)
        blobs.open = original  # type: ignore[method-assign]
    assert await status() == ({"statusCode": "ACTIVE", "reason": "SUCCESSFUL"}, "ACTIVE")
