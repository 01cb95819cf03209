"""Outbox events as EventBridge events, checked field by field against the examples AWS publishes
(REFERENCE.md §2; awsdocs amazon-ecr-user-guide `image-scanning-enhanced.md`, `ecr-eventbridge.md`)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from dockwatch.events.eventbridge import (
    DELIVERABLE_TYPES,
    Unrenderable,
    encode,
    event_id,
    human_time,
    to_eventbridge,
)
from dockwatch.findings.shape import ImageContext, inspector_finding
from dockwatch.model.events import (
    CoverageChanged,
    FindingClosed,
    FindingCreated,
    FindingUpdated,
    OutboxEvent,
    ScanCompleted,
    decode,
)
from dockwatch.model.identity import Tenant

ACCOUNT, REGION = "123456789012", "us-east-2"
TENANT = Tenant(ACCOUNT, REGION)
DIGEST = "sha256:" + "36c7b282" * 8
AT = datetime(2021, 12, 3, 18, 3, 16, 665501, tzinfo=UTC)
ENVELOPE_KEYS = {
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
}


def _event(event_type: str, payload: dict[str, Any], outbox_id: int = 7) -> OutboxEvent:
    """A stored row as the outbox reads it back."""
    return OutboxEvent(outbox_id, decode(event_type, TENANT, AT, "subject", payload))


def _finding_event(kind: str, finding: Any) -> tuple[OutboxEvent, Any]:
    """A finding event's snapshot and the Inspector finding it materializes to."""
    kinds = {c.NAME: c for c in (FindingCreated, FindingUpdated, FindingClosed)}
    snapshot = kinds[kind](
        TENANT,
        AT,
        finding_id="be674aaddd0f75ac632055",
        detail_ref="ref",
        vulnerability_id="CVE-2019-17498",
        status="ACTIVE",
        severity="MEDIUM",
        fix_available="YES",
        first_observed_at=AT,
        last_observed_at=AT,
        updated_at=AT,
        repository_name="amazon/amazon-ecs-sample",
        image_digest=DIGEST,
        changes=("severity",),
    )
    return OutboxEvent(7, snapshot), finding


def _check_envelope(env: dict[str, Any], detail_type: str, source: str) -> None:
    assert set(env) == ENVELOPE_KEYS
    assert env["version"] == "0"
    assert env["detail-type"] == detail_type
    assert env["source"] == source
    assert env["account"] == ACCOUNT and env["region"] == REGION
    # the examples write `"time": "2021-12-03T18:03:16Z"`
    assert env["time"] == "2021-12-03T18:03:16Z"
    assert uuid.UUID(env["id"]).version == 5


# --- Inspector2 Scan ----------------------------------------------------------------------------


def test_scan_event_matches_the_inspector_example() -> None:
    env = to_eventbridge(
        _event(
            "ScanCompleted",
            {
                "repositoryName": "amazon/amazon-ecs-sample",
                "imageDigest": DIGEST,
                "imageTags": ["latest"],
                "trigger": "scan",
                "findingSeverityCounts": {"CRITICAL": 7, "HIGH": 61, "MEDIUM": 62, "LOW": 0},
                "dbVersion": 3,
                "layersRead": 2,
            },
        )
    )
    _check_envelope(env, "Inspector2 Scan", "aws.inspector2")
    repo_arn = "arn:aws:ecr:us-east-2:123456789012:repository/amazon/amazon-ecs-sample"
    assert env["resources"] == [repo_arn]
    detail = env["detail"]
    assert set(detail) == {
        "scan-status",
        "repository-name",
        "finding-severity-counts",
        "image-digest",
        "image-tags",
        "version",
    }
    assert detail["scan-status"] == "INITIAL_SCAN_COMPLETE"
    assert detail["repository-name"] == repo_arn  # the ARN, not the name
    # only severities that exist, plus TOTAL (LOW: 0 is left out)
    assert detail["finding-severity-counts"] == {
        "CRITICAL": 7,
        "HIGH": 61,
        "MEDIUM": 62,
        "TOTAL": 7 + 61 + 62,
    }
    assert detail["image-digest"] == DIGEST
    assert detail["image-tags"] == ["latest"]
    assert detail["version"] == "1.0"


def test_a_clean_scan_counts_only_total_and_a_rematch_is_not_an_initial_scan() -> None:
    payload = {
        "repositoryName": "app",
        "imageDigest": DIGEST,
        "trigger": "rematch",
        "findingSeverityCounts": {},
    }
    detail = to_eventbridge(_event("ScanCompleted", payload))["detail"]
    assert detail["finding-severity-counts"] == {"TOTAL": 0}
    assert detail["scan-status"] == "RESCAN_COMPLETE"
    assert detail["image-tags"] == []


# --- Inspector2 Finding -------------------------------------------------------------------------


def _finding() -> dict[str, Any]:
    return inspector_finding(
        TENANT,
        ImageContext(
            "amazon/amazon-ecs-sample",
            DIGEST,
            ("latest",),
            datetime(2021, 12, 3, 18, 2, 13, tzinfo=UTC),
            architecture="amd64",
        ),
        finding_id="be674aaddd0f75ac632055",
        status="ACTIVE",
        severity="MEDIUM",
        fix_available="YES",
        first_observed_at=datetime(2021, 12, 3, 18, 2, 30, tzinfo=UTC),
        last_observed_at=datetime(2021, 12, 3, 18, 2, 30, tzinfo=UTC),
        updated_at=datetime(2021, 12, 3, 6, 2, 30, tzinfo=UTC),
        detail={
            "title": "CVE-2019-17498 - libssh2",
            "description": "In libssh2 v1.9.0 and earlier versions ...",
            "inspectorScore": 6.5,
            "packageVulnerabilityDetails": {
                "vulnerabilityId": "CVE-2019-17498",
                "source": "REDHAT_CVE",
                "vendorCreatedAt": "2019-10-16T00:00:00+00:00",
                "vulnerablePackages": [{"name": "libssh2", "version": "1.4.3"}],
            },
            "evidence": [{"matcher": "rpm", "searchedBy": {"package": "libssh2"}}],
        },
    )


def test_finding_event_is_the_finding_without_evidence_with_aws_time_strings() -> None:
    finding = _finding()
    assert "evidence" in finding  # dockwatch's own addition, present in the stored payload
    env = to_eventbridge(*_finding_event("FindingCreated", finding))
    _check_envelope(env, "Inspector2 Finding", "aws.inspector2")
    image = "arn:aws:ecr:us-east-2:123456789012:repository/amazon/amazon-ecs-sample/" + DIGEST
    assert env["resources"] == [image]
    detail = env["detail"]
    assert "evidence" not in detail
    assert set(detail) == set(finding) - {"evidence"}
    # the AWS example: `"time": "2021-12-03T18:02:30Z"` with `"firstObservedAt": "Dec 3, 2021,
    # 6:02:30 PM"`, `"vendorCreatedAt": "Oct 16, 2019, 12:00:00 AM"`, `"pushedAt": "Dec 3, 2021,
    # 6:02:13 PM"`
    assert detail["firstObservedAt"] == "Dec 3, 2021, 6:02:30 PM"
    assert detail["lastObservedAt"] == "Dec 3, 2021, 6:02:30 PM"
    assert detail["updatedAt"] == "Dec 3, 2021, 6:02:30 AM"
    pvd = detail["packageVulnerabilityDetails"]
    assert pvd["vendorCreatedAt"] == "Oct 16, 2019, 12:00:00 AM"
    ecr = detail["resources"][0]["details"]["awsEcrContainerImage"]
    assert ecr["pushedAt"] == "Dec 3, 2021, 6:02:13 PM"
    # everything else is the finding as the API shows it
    for key in ("findingArn", "awsAccountId", "title", "severity", "status", "type"):
        assert detail[key] == finding[key]
    assert detail["findingArn"] == (
        "arn:aws:inspector2:us-east-2:123456789012:finding/be674aaddd0f75ac632055"
    )
    assert pvd["vulnerablePackages"] == finding["packageVulnerabilityDetails"]["vulnerablePackages"]
    # the stored payload is left untouched
    assert finding["firstObservedAt"] == "2021-12-03T18:02:30+00:00"


@pytest.mark.parametrize("kind", ["FindingCreated", "FindingUpdated", "FindingClosed"])
def test_every_finding_change_is_an_inspector2_finding(kind: str) -> None:
    env = to_eventbridge(*_finding_event(kind, _finding()))
    assert env["detail-type"] == "Inspector2 Finding"
    assert "changes" not in env["detail"]


def test_time_strings_parse_the_way_consumers_parse_them() -> None:
    """SIEM code reads these with `%b %d, %Y, %I:%M:%S %p`; every hour of a day round-trips."""
    for hour in range(24):
        at = datetime(2024, 9, 4, hour, 5, 38, tzinfo=UTC)
        text = human_time(at.isoformat())
        assert datetime.strptime(text, "%b %d, %Y, %I:%M:%S %p").replace(tzinfo=UTC) == at
    assert human_time("2024-09-04T16:55:38Z") == "Sep 4, 2024, 4:55:38 PM"
    assert human_time("2024-09-04T18:55:38+02:00") == "Sep 4, 2024, 4:55:38 PM"  # in UTC
    assert human_time("not a time") == "not a time"


# --- Inspector2 Coverage ------------------------------------------------------------------------


def test_coverage_event_uses_status_code_value() -> None:
    env = to_eventbridge(
        _event(
            "CoverageChanged",
            {
                "repositoryName": "app",
                "imageDigest": DIGEST,
                "scanStatus": {"statusCode": "INACTIVE", "reason": "SCAN_ELIGIBILITY_EXPIRED"},
            },
        )
    )
    _check_envelope(env, "Inspector2 Coverage", "aws.inspector2")
    assert env["resources"] == [f"arn:aws:ecr:us-east-2:123456789012:repository/app/{DIGEST}"]
    assert env["detail"] == {
        "scanStatus": {"reason": "SCAN_ELIGIBILITY_EXPIRED", "statusCodeValue": "INACTIVE"},
        "scanType": "PACKAGE",
        "eventTimestamp": "2021-12-03T18:03:16.665501Z",  # the form of "2023-01-20T22:51:35.665501Z"
        "version": "1.0",
    }


# --- ECR Image Action ---------------------------------------------------------------------------

ECR_KEYS = {"result", "repository-name", "image-digest", "action-type", "image-tag"}


def test_push_is_an_ecr_image_action() -> None:
    env = to_eventbridge(
        _event(
            "ManifestPushed",
            {
                "repositoryName": "my-repository-name",
                "imageDigest": DIGEST,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": None,
                "subject": None,
                "imageTags": ["latest"],
                "firstPush": True,
                "pushedAt": AT.isoformat(),
            },
        )
    )
    _check_envelope(env, "ECR Image Action", "aws.ecr")
    assert env["resources"] == []  # as in the ECR example
    detail = env["detail"]
    assert {k: detail[k] for k in ECR_KEYS} == {
        "result": "SUCCESS",
        "repository-name": "my-repository-name",
        "image-digest": DIGEST,
        "action-type": "PUSH",
        "image-tag": "latest",
    }
    assert detail["manifest-media-type"] == "application/vnd.oci.image.manifest.v1+json"
    assert set(detail) == ECR_KEYS | {"manifest-media-type"}


def test_delete_and_tag_events_are_image_actions() -> None:
    deleted = to_eventbridge(
        _event(
            "ManifestDeleted",
            {"repositoryName": "r", "imageDigest": DIGEST, "imageTags": ["latest"]},
        )
    )["detail"]
    assert deleted == {
        "result": "SUCCESS",
        "repository-name": "r",
        "image-digest": DIGEST,
        "action-type": "DELETE",
        "image-tag": "latest",
    }
    untagged = {"repositoryName": "r", "imageTag": "v1", "previousDigest": DIGEST}
    removed = to_eventbridge(_event("TagChanged", {**untagged, "imageDigest": None}))["detail"]
    assert removed["action-type"] == "DELETE" and removed["image-digest"] == DIGEST
    assert removed["image-tag"] == "v1"
    other = "sha256:" + "1" * 64
    moved = to_eventbridge(_event("TagChanged", {**untagged, "imageDigest": other}))["detail"]
    assert moved["action-type"] == "PUSH" and moved["image-digest"] == other
    # a push by digest of an untagged image names no tag
    bare = {"repositoryName": "r", "imageDigest": DIGEST, "imageTags": []}
    assert "image-tag" not in to_eventbridge(_event("ManifestPushed", bare))["detail"]


# --- ids, bytes, errors -------------------------------------------------------------------------


def test_ids_are_stable_and_distinct() -> None:
    payload = {"repositoryName": "r", "imageDigest": DIGEST, "imageTags": []}
    first = to_eventbridge(_event("ManifestDeleted", payload, outbox_id=41))
    again = to_eventbridge(_event("ManifestDeleted", payload, outbox_id=41))
    assert first == again and encode(first) == encode(again)
    assert first["id"] == event_id(ACCOUNT, REGION, 41)
    ids = {
        event_id(ACCOUNT, REGION, 41),
        event_id(ACCOUNT, REGION, 42),
        event_id("210987654321", REGION, 41),
        event_id(ACCOUNT, "eu-west-1", 41),
    }
    assert len(ids) == 4


def test_internal_and_malformed_events_are_unrenderable() -> None:
    with pytest.raises(Unrenderable, match="not a deliverable"):
        to_eventbridge(_event("AdvisoriesChanged", {"version": 3}))
    with pytest.raises(Unrenderable, match="repositoryName"):
        to_eventbridge(_event("ScanCompleted", {"imageDigest": DIGEST}))
    with pytest.raises(Unrenderable):
        to_eventbridge(*_finding_event("FindingCreated", "not an object"))


def test_deliverable_types_are_the_ones_producers_write() -> None:
    SCAN_COMPLETED, COVERAGE_CHANGED = ScanCompleted.NAME, CoverageChanged.NAME

    assert SCAN_COMPLETED in DELIVERABLE_TYPES and COVERAGE_CHANGED in DELIVERABLE_TYPES
    assert "AdvisoriesChanged" not in DELIVERABLE_TYPES


def test_bodies_are_compact_json_of_the_envelope() -> None:
    env = to_eventbridge(
        _event("ManifestDeleted", {"repositoryName": "r", "imageDigest": DIGEST, "imageTags": []})
    )
    body = encode(env)
    assert b": " not in body and b", " not in body
    assert re.fullmatch(rb"\{.*\}", body)
    import json

    assert json.loads(body) == env
