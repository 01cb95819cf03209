"""A basic scan that ends sends ECR's "ECR Image Scan" event (Amazon ECR User Guide, "Event for
an image scan"; REFERENCE.md §2.5): completed with the number of findings per ECR severity, or
failed. The image is an Alpine one with a vulnerable openssl, matched against an Alpine secdb
excerpt (`tests.builders.feeds.ALPINE_MAIN_V319`), so the counts come from a real match."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dockwatch.app import Services, build
from dockwatch.clock import ControlledClock
from dockwatch.config import Settings
from dockwatch.scan.scan_events import basic_severity_counts
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.builders.feeds import ALPINE_MAIN_V319, alpine_secdb
from tests.builders.layers import apk_entry, make_image, make_layer, sha256
from tests.builders.push import push_image
from tests.unit.events.capture import Capture

T0 = datetime(2024, 6, 1, tzinfo=UTC)
"""While Alpine 3.19 is supported."""
ON_PUSH = {
    "scanType": "BASIC",
    "rules": [
        {
            "scanFrequency": "SCAN_ON_PUSH",
            "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
        }
    ],
}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build(Settings(data_dir=tmp_path / "d", test_mode=True))
    assert isinstance(built.clock, ControlledClock)
    built.clock.set(T0)
    feed = tmp_path / "secdb"
    feed.mkdir()
    (feed / "main.json").write_bytes(alpine_secdb("v3.19", "main", ALPINE_MAIN_V319))
    import_paths(VulnDb(built.store, built.clock), [feed])
    built.scanner.put_scanning_configuration(ON_PUSH)
    yield built
    built.close()


def _alpine(openssl: str) -> Any:
    return make_image(
        [
            make_layer(
                {
                    "etc/os-release": "ID=alpine\nVERSION_ID=3.19.1\n",
                    "lib/apk/db/installed": apk_entry("openssl", openssl, origin="openssl"),
                }
            )
        ]
    )


def test_a_basic_scan_sends_ecr_image_scan_with_its_counts(services: Services) -> None:
    capture = Capture(services, ["BasicScanCompleted"])
    # 3.1.0-r0 is before the secdb's fixes 3.1.2-r0 (CVE-2023-3817), 3.1.4-r0 (CVE-2023-5363)
    # and 3.1.4-r1 (CVE-2023-5678); secdb gives no severity: ECR says UNDEFINED
    digest = push_image(services, "basic/app", _alpine("3.1.0-r0"), tag="v1")
    services.worker.drain()
    [body] = capture.take()
    t = services.tenant
    assert (body["source"], body["detail-type"]) == ("aws.ecr", "ECR Image Scan")
    assert body["resources"] == [f"arn:aws:ecr:{t.region}:{t.account_id}:repository/basic/app"]
    assert body["detail"] == {
        "scan-status": "COMPLETE",
        "repository-name": "basic/app",
        "finding-severity-counts": {"UNDEFINED": 3},
        "image-digest": digest,
        "image-tags": ["v1"],
    }
    # a fixed image: no severity is listed
    clean = push_image(services, "basic/app", _alpine("3.1.4-r1"), tag="v2")
    services.worker.drain()
    [body] = capture.take()
    assert body["detail"]["image-digest"] == clean
    assert body["detail"]["finding-severity-counts"] == {}


def test_a_failed_basic_scan_sends_failed(services: Services) -> None:
    capture = Capture(services, ["BasicScanCompleted"])
    good = _alpine("3.1.0-r0")
    broken = dataclasses.replace(good, config=b"this is not JSON")
    manifest = json.loads(good.manifest)
    manifest["config"].update(digest=sha256(broken.config), size=len(broken.config))
    broken = dataclasses.replace(broken, manifest=json.dumps(manifest).encode())
    digest = push_image(services, "basic/broken", broken, tag="v1")
    services.worker.drain()
    [body] = capture.take()
    assert body["detail"] == {
        "scan-status": "FAILED",
        "repository-name": "basic/broken",
        "finding-severity-counts": {},
        "image-digest": digest,
        "image-tags": ["v1"],
    }


def test_enhanced_scans_send_no_ecr_image_scan(services: Services) -> None:
    services.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
    capture = Capture(services)
    push_image(services, "enh/app", _alpine("3.1.0-r0"), tag="v1")
    services.worker.drain()
    types = {b["detail-type"] for b in capture.take()}
    assert "ECR Image Scan" not in types and "Inspector2 Scan" in types


def test_counts_follow_ecr_severities() -> None:
    findings = [{"severity": s} for s in ("LOW", "CRITICAL", "LOW", "UNDEFINED", "HIGH")]
    assert basic_severity_counts(findings) == {"CRITICAL": 1, "HIGH": 1, "LOW": 2, "UNDEFINED": 1}
    assert list(basic_severity_counts(findings)) == ["CRITICAL", "HIGH", "LOW", "UNDEFINED"]
    assert basic_severity_counts([]) == {}
