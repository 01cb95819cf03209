"""Every change of an image's coverage (status, reason) reaches subscribers as AWS's "Inspector2
Coverage" event, and nothing else does: in process over a real SQLite store, with the bodies
a webhook receives compared with the shape of AWS's documented example (REFERENCE.md §2.3,
Amazon Inspector User Guide "Amazon Inspector coverage event schema example")."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dockwatch.app import Services, build
from dockwatch.clock import ControlledClock
from dockwatch.config import Settings
from dockwatch.scan.coverage_state import forget_state, is_initial_scan, record_state
from dockwatch.scan.eligibility import expire_pass
from dockwatch.storage.scan_repo import ScanState
from tests.builders.layers import Image, make_image, make_layer
from tests.builders.push import push_image
from tests.unit.events.capture import Capture

T0 = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
ENVELOPE = {"version", "id", "detail-type", "source", "account", "time", "region", "resources"}
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
"""The form of the example's `"eventTimestamp": "2023-01-20T22:51:35.665501Z"`."""


def _image(seed: str) -> Image:
    meta = "usr/lib/python3/site-packages/alpha-1.0.dist-info/METADATA"
    return make_image(
        [make_layer({meta: "Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n", "s": seed})]
    )


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build(Settings(data_dir=tmp_path / "d", test_mode=True))
    assert isinstance(built.clock, ControlledClock)
    built.clock.set(T0)
    built.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
    yield built
    built.close()


def _arn(services: Services, repository: str, digest: str) -> str:
    t = services.tenant
    return f"arn:aws:ecr:{t.region}:{t.account_id}:repository/{repository}/{digest}"


def _coverage(services: Services, body: dict[str, Any]) -> tuple[str, str, str]:
    """(resource, status, reason) of one delivered body, after checking it has AWS's shape."""
    assert set(body) == ENVELOPE | {"detail"}
    assert (body["source"], body["detail-type"]) == ("aws.inspector2", "Inspector2 Coverage")
    assert (body["account"], body["region"]) == (
        services.tenant.account_id,
        services.tenant.region,
    )
    detail = body["detail"]
    assert set(detail) == {"scanStatus", "scanType", "eventTimestamp", "version"}
    assert set(detail["scanStatus"]) == {"reason", "statusCodeValue"}
    assert detail["scanType"] == "PACKAGE" and detail["version"] == "1.0"
    assert TIMESTAMP.fullmatch(detail["eventTimestamp"])
    [resource] = body["resources"]
    return resource, detail["scanStatus"]["statusCodeValue"], detail["scanStatus"]["reason"]


def test_a_new_image_reports_each_step_and_a_rescan_reports_nothing(services: Services) -> None:
    capture = Capture(services, ["CoverageChanged"])
    digest = push_image(services, "cov/app", _image("a"), tag="v1")
    services.worker.drain()
    arn = _arn(services, "cov/app", digest)
    assert [_coverage(services, b) for b in capture.take()] == [
        (arn, "ACTIVE", "PENDING_INITIAL_SCAN"),
        (arn, "ACTIVE", "SCAN_IN_PROGRESS"),
        (arn, "ACTIVE", "SUCCESSFUL"),
    ]
    # a re-push under another tag scans it again, a re-match too: it stays ACTIVE / SUCCESSFUL
    assert push_image(services, "cov/app", _image("a"), tag="v2") == digest
    services.worker.drain()
    services.scanner.scan("cov/app", digest, rematch=True)
    assert capture.take() == []


def test_expiry_is_reported_once(services: Services) -> None:
    services.scanner.put_ecr_configuration({"rescanDuration": "DAYS_7"})
    digest = push_image(services, "cov/old", _image("b"), tag="v1")
    services.worker.drain()
    capture = Capture(services, ["CoverageChanged"])
    assert isinstance(services.clock, ControlledClock)
    services.clock.set(T0 + timedelta(days=8))
    assert expire_pass(services.scanner) == 1
    assert expire_pass(services.scanner) == 0
    bodies = capture.take()
    assert [_coverage(services, b) for b in bodies] == [
        (_arn(services, "cov/old", digest), "INACTIVE", "SCAN_ELIGIBILITY_EXPIRED")
    ]


def test_deactivation_and_deletion_end_coverage_with_their_reasons(services: Services) -> None:
    kept = push_image(services, "cov/kept", _image("c"), tag="v1")
    gone = push_image(services, "cov/gone", _image("d"), tag="v1")
    services.worker.drain()
    capture = Capture(services, ["CoverageChanged"])
    services.registry.manifests.delete("cov/gone", gone)
    services.worker.drain()
    assert [_coverage(services, b) for b in capture.take()] == [
        (_arn(services, "cov/gone", gone), "INACTIVE", "RESOURCE_TERMINATED")
    ]
    services.scanner.put_scanning_configuration({"scanType": "BASIC", "rules": []})
    assert [_coverage(services, b) for b in capture.take()] == [
        (_arn(services, "cov/kept", kept), "INACTIVE", "PENDING_DISABLE")
    ]


def test_basic_scan_states_are_not_inspector_coverage(services: Services) -> None:
    services.scanner.put_scanning_configuration(
        {
            "scanType": "BASIC",
            "rules": [
                {
                    "scanFrequency": "SCAN_ON_PUSH",
                    "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
                }
            ],
        }
    )
    capture = Capture(services, ["CoverageChanged"])
    push_image(services, "cov/basic", _image("e"), tag="v1")
    services.worker.drain()
    assert capture.take() == []


def _repo_id(services: Services, name: str) -> int:
    with services.store.read() as uow:
        repo = uow.registry.get_repository(services.tenant, name)
    assert repo is not None
    return repo.id


def test_record_state_reports_only_changes_of_status_or_reason(services: Services) -> None:
    services.scanner.put_scanning_configuration({"scanType": "BASIC", "rules": []})
    digest = push_image(services, "cov/direct", _image("f"), tag="v1")  # not scanned
    repo_id = _repo_id(services, "cov/direct")
    capture = Capture(services, ["CoverageChanged"])
    at = services.clock.now()

    def state(status: str, reason: str, scanned: datetime | None = None) -> ScanState:
        return ScanState(repo_id, digest, "ENHANCED", status, reason, scanned, 1, None, None)

    writes = [
        state("ACTIVE", "SUCCESSFUL", at),
        state("ACTIVE", "SUCCESSFUL", at + timedelta(hours=1)),  # rescanned: same coverage
        state("INACTIVE", "UNSUPPORTED_OS", at),  # the reason and the status change
        state("INACTIVE", "SCAN_ELIGIBILITY_EXPIRED", at),  # the reason alone changes
    ]
    replaced = []
    for s in writes:
        with services.store.write() as uow:
            replaced.append(record_state(uow, services.tenant, s, at))
    assert replaced == [None, *writes[:-1]]
    arn = _arn(services, "cov/direct", digest)
    assert [_coverage(services, b) for b in capture.take()] == [
        (arn, "ACTIVE", "SUCCESSFUL"),
        (arn, "INACTIVE", "UNSUPPORTED_OS"),
        (arn, "INACTIVE", "SCAN_ELIGIBILITY_EXPIRED"),
    ]
    with services.store.write() as uow:
        assert forget_state(uow, services.tenant, repo_id, digest, at, "PENDING_DISABLE")
        assert forget_state(uow, services.tenant, repo_id, digest, at, "PENDING_DISABLE") is None
        assert uow.scans.get_scan(repo_id, digest) is None
    assert [_coverage(services, b) for b in capture.take()] == [
        (arn, "INACTIVE", "PENDING_DISABLE")
    ]


def _state(scan_type: str, status: str, reason: str) -> ScanState:
    return ScanState(1, "sha256:" + "0" * 64, scan_type, status, reason, None, 0, None, None)


@pytest.mark.parametrize(
    ("previous", "initial"),
    [
        (None, True),
        (_state("ENHANCED", "ACTIVE", "PENDING_INITIAL_SCAN"), True),
        (_state("ENHANCED", "ACTIVE", "SCAN_IN_PROGRESS"), True),
        (_state("ENHANCED", "INACTIVE", "SCAN_ELIGIBILITY_EXPIRED"), True),
        (_state("ENHANCED", "INACTIVE", "INTERNAL_ERROR"), True),
        (_state("BASIC", "COMPLETE", "SUCCESSFUL"), True),
        (_state("ENHANCED", "ACTIVE", "SUCCESSFUL"), False),
        (_state("ENHANCED", "INACTIVE", "UNSUPPORTED_OS"), False),
    ],
)
def test_which_scan_is_initial(previous: ScanState | None, initial: bool) -> None:
    assert is_initial_scan(previous) is initial


def _scan_statuses(capture: Capture) -> list[str]:
    return [b["detail"]["scan-status"] for b in capture.take("Inspector2 Scan")]


def test_inspector2_scan_is_initial_once_per_monitoring_period(services: Services) -> None:
    """Inspector sends "initial scan complete" once; later scans say RESCAN_COMPLETE, and an
    image whose monitoring expired starts a new period when pushed again."""
    services.scanner.put_ecr_configuration({"rescanDuration": "DAYS_7"})
    capture = Capture(services, ["ScanCompleted"])
    digest = push_image(services, "cov/scan", _image("g"), tag="v1")
    services.worker.drain()
    [body] = capture.take()
    repo_arn = _arn(services, "cov/scan", digest).rsplit("/", 1)[0]
    assert (body["source"], body["detail-type"]) == ("aws.inspector2", "Inspector2 Scan")
    assert body["resources"] == [repo_arn]
    assert body["detail"]["scan-status"] == "INITIAL_SCAN_COMPLETE"
    assert body["detail"]["repository-name"] == repo_arn
    assert body["detail"]["image-digest"] == digest
    push_image(services, "cov/scan", _image("g"), tag="v2")
    services.worker.drain()
    assert _scan_statuses(capture) == ["RESCAN_COMPLETE"]
    assert isinstance(services.clock, ControlledClock)
    services.clock.set(T0 + timedelta(days=8))
    assert expire_pass(services.scanner) == 1
    push_image(services, "cov/scan", _image("g"), tag="v3")
    services.worker.drain()
    assert _scan_statuses(capture) == ["INITIAL_SCAN_COMPLETE"]
