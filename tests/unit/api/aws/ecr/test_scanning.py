"""ECR scanning operations over a real store and scanner: the registry scanning configuration,
per-repository scan on push, StartImageScan (basic: queued and completed; enhanced: refused as
ECR refuses it; once per 24 hours), DescribeImageScanFindings in its basic and enhanced shapes
with pages, BatchGetRepositoryScanningConfiguration. Answers fit botocore's output shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dockwatch.app import Services
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.builders.layers import Layer, make_image, make_layer
from tests.builders.push import push_image
from tests.unit.api.aws.ecr.calls import call, context, fails, waiter_state

pytestmark = pytest.mark.anyio

FIXES = {"PYSEC-9-1": "2.0", "PYSEC-9-2": "3.0"}


def _python_layer(name: str, version: str, salt: str) -> Layer:
    path = f"usr/lib/python3/site-packages/{name}-{version}.dist-info/METADATA"
    return make_layer(
        {path: f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", "salt": salt}
    )


def _advisories(services: Services, tmp_path: Path) -> None:
    folder = tmp_path / "osv"
    folder.mkdir()
    for vid, fixed in FIXES.items():
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


def _continuous_everywhere() -> dict[str, Any]:
    return {
        "scanType": "ENHANCED",
        "rules": [
            {
                "scanFrequency": "CONTINUOUS_SCAN",
                "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
            }
        ],
    }


async def test_registry_scanning_configuration_round_trips(services: Services) -> None:
    ctx = context(services)
    first = await call(ctx, "GetRegistryScanningConfiguration")
    assert first == {
        "registryId": services.tenant.account_id,
        "scanningConfiguration": {"scanType": "BASIC", "rules": []},
    }
    put = await call(ctx, "PutRegistryScanningConfiguration", **_continuous_everywhere())
    assert put["registryScanningConfiguration"] == _continuous_everywhere()
    got = await call(ctx, "GetRegistryScanningConfiguration")
    assert got["scanningConfiguration"] == _continuous_everywhere()
    bad = {"scanFrequency": "CONTINUOUS_SCAN",
           "repositoryFilters": [{"filter": "UPPER CASE", "filterType": "WILDCARD"}]}  # fmt: skip
    await fails(
        ctx, "PutRegistryScanningConfiguration", "ValidationException",
        scanType="ENHANCED", rules=[bad],
    )  # fmt: skip


async def test_batch_get_repository_scanning_configuration(services: Services) -> None:
    ctx = context(services)
    await call(ctx, "CreateRepository", repositoryName="prod-api")
    await call(ctx, "CreateRepository", repositoryName="dev-api")
    rules = {
        "scanType": "ENHANCED",
        "rules": [
            {"scanFrequency": "SCAN_ON_PUSH",
             "repositoryFilters": [{"filter": "prod", "filterType": "WILDCARD"}]},
        ],
    }  # fmt: skip
    await call(ctx, "PutRegistryScanningConfiguration", **rules)
    got = await call(
        ctx, "BatchGetRepositoryScanningConfiguration",
        repositoryNames=["prod-api", "dev-api", "missing"],
    )  # fmt: skip
    by_name = {c["repositoryName"]: c for c in got["scanningConfigurations"]}
    assert by_name["prod-api"]["scanFrequency"] == "SCAN_ON_PUSH"
    assert by_name["prod-api"]["appliedScanFilters"] == [
        {"filter": "prod", "filterType": "WILDCARD"}
    ]
    assert by_name["dev-api"]["scanFrequency"] == "MANUAL"
    assert got["failures"] == [
        {
            "repositoryName": "missing",
            "failureCode": "REPOSITORY_NOT_FOUND",
            "failureReason": "The repository with name 'missing' does not exist in the registry "
            f"with id '{services.tenant.account_id}'",
        }
    ]


async def test_basic_scan_started_by_hand_completes(services: Services) -> None:
    ctx = context(services)
    await call(ctx, "CreateRepository", repositoryName="app")
    flag = await call(
        ctx, "PutImageScanningConfiguration", repositoryName="app",
        imageScanningConfiguration={"scanOnPush": False},
    )  # fmt: skip
    assert flag["imageScanningConfiguration"] == {"scanOnPush": False}
    digest = push_image(services, "app", make_image([_python_layer("beta", "1.0", "b")]), "v1")
    await fails(
        ctx, "DescribeImageScanFindings", "ScanNotFoundException",
        repositoryName="app", imageId={"imageTag": "v1"},
    )  # fmt: skip
    started = await call(ctx, "StartImageScan", repositoryName="app", imageId={"imageTag": "v1"})
    assert started["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    assert started["imageScanStatus"]["status"] == "IN_PROGRESS"
    services.worker.drain()
    done = await call(
        ctx, "DescribeImageScanFindings", repositoryName="app", imageId={"imageDigest": digest}
    )
    # what ECR's image_scan_complete waiter waits for
    assert done["imageScanStatus"]["status"] == "COMPLETE"
    assert waiter_state("ImageScanComplete", done) == "success"
    assert done["imageScanFindings"]["findings"] == []
    assert done["imageScanFindings"]["findingSeverityCounts"] == {}
    await fails(
        ctx, "StartImageScan", "LimitExceededException",
        repositoryName="app", imageId={"imageDigest": digest},
    )  # fmt: skip
    await fails(
        ctx, "StartImageScan", "ImageNotFoundException",
        repositoryName="app", imageId={"imageTag": "nope"},
    )  # fmt: skip
    await fails(
        ctx, "PutImageScanningConfiguration", "RepositoryNotFoundException",
        repositoryName="nope", imageScanningConfiguration={"scanOnPush": True},
    )  # fmt: skip


async def test_enhanced_findings_are_paged_in_ecr_shape(services: Services, tmp_path: Path) -> None:
    ctx = context(services)
    _advisories(services, tmp_path)
    await call(ctx, "PutRegistryScanningConfiguration", **_continuous_everywhere())
    await call(ctx, "CreateRepository", repositoryName="shop")
    digest = push_image(services, "shop", make_image([_python_layer("alpha", "1.0", "a")]), "v1")
    services.worker.drain()
    await fails(
        ctx, "StartImageScan", "ValidationException",
        repositoryName="shop", imageId={"imageTag": "v1"},
    )  # fmt: skip
    first = await call(
        ctx, "DescribeImageScanFindings", repositoryName="shop", imageId={"imageTag": "v1"},
        maxResults=1,
    )  # fmt: skip
    assert first["imageScanStatus"]["status"] == "ACTIVE"
    # ECR's waiter knows only COMPLETE: under continuous scanning it keeps polling, as on ECR
    assert waiter_state("ImageScanComplete", first) is None
    assert first["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    second = await call(
        ctx, "DescribeImageScanFindings", repositoryName="shop", imageId={"imageTag": "v1"},
        maxResults=1, nextToken=first["nextToken"],
    )  # fmt: skip
    assert "nextToken" not in second
    findings = [
        *first["imageScanFindings"]["enhancedFindings"],
        *second["imageScanFindings"]["enhancedFindings"],
    ]
    got = {
        f["packageVulnerabilityDetails"]["vulnerabilityId"]: f["packageVulnerabilityDetails"][
            "vulnerablePackages"
        ][0]
        for f in findings
    }
    assert {v: (p["name"], p["version"], p["fixedInVersion"]) for v, p in got.items()} == {
        v: ("alpha", "1.0", fixed) for v, fixed in FIXES.items()
    }
    for f in findings:
        [resource] = f["resources"]
        assert resource["details"]["awsEcrContainerImage"]["imageHash"] == digest
        assert f["status"] == "ACTIVE"
    counts = first["imageScanFindings"]["findingSeverityCounts"]
    assert sum(counts.values()) == len(FIXES)
