"""Outbox events as typed values: rows written before the types existed read back unchanged,
and a row that is not a readable event becomes `Unreadable` instead of stopping a reader."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dockwatch.model.events import (
    EVENT_TYPES,
    AdvisoriesChanged,
    CoverageChanged,
    Event,
    FindingClosed,
    ManifestPushed,
    RescanCompleted,
    ScanCompleted,
    TagChanged,
    Unreadable,
    WebhookTest,
    decode,
)
from dockwatch.model.identity import Tenant

TENANT = Tenant("123456789012", "us-east-1")
AT = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
DIGEST = "sha256:" + "ab" * 32

# payloads exactly as the producers wrote them before events were typed
STORED: dict[str, dict[str, Any]] = {
    "ManifestPushed": {
        "repositoryName": "app",
        "imageDigest": DIGEST,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": None,
        "subject": None,
        "imageTags": ["v1"],
        "firstPush": True,
        "pushedAt": "2026-12-04T10:00:00+00:00",
    },
    "ManifestDeleted": {"repositoryName": "app", "imageDigest": DIGEST, "imageTags": []},
    "TagChanged": {
        "repositoryName": "app",
        "imageTag": "v1",
        "previousDigest": None,
        "imageDigest": DIGEST,
    },
    "ScanCompleted": {
        "repositoryName": "app",
        "imageDigest": DIGEST,
        "imageTags": ["v1"],
        "trigger": "scan",
        "findingSeverityCounts": {"HIGH": 2},
        "dbVersion": 3,
        "layersRead": 2,
    },
    "RescanCompleted": {
        "version": 4,
        "imagesReevaluated": 1,
        "affectedPairs": 2,
        "packagesMatched": 3,
        "signatures": 4,
        "findingsOpened": 5,
        "findingsReopened": 6,
        "findingsUpdated": 7,
        "findingsClosed": 8,
        "layersRead": 9,
    },
    "CoverageChanged": {
        "repositoryName": "app",
        "imageDigest": DIGEST,
        "scanStatus": {"statusCode": "INACTIVE", "reason": "SCAN_ELIGIBILITY_EXPIRED"},
    },
    "FindingClosed": {
        "findingId": "f1",
        "detailRef": "d1",
        "vulnerabilityId": "CVE-2024-1",
        "status": "CLOSED",
        "severity": "HIGH",
        "fixAvailable": "YES",
        "firstObservedAt": "2026-12-01T10:00:00",
        "lastObservedAt": "2026-12-02T10:00:00",
        "updatedAt": "2026-12-04T10:00:00+00:00",
        "repositoryName": "app",
        "imageDigest": DIGEST,
        "imageTags": [],
        "pushedAt": None,
        "changes": ["status"],
    },
    "AdvisoriesChanged": {
        "version": 5,
        "source": "osv:PyPI",
        "added": ["GHSA-1"],
        "modified": [],
        "withdrawn": ["GHSA-2"],
        "packageKeys": [["PyPI", "django"], ["PyPI", "flask"]],
        "cves": ["CVE-2024-1"],
    },
    "WebhookTest": {"webhookId": "w1"},
}


@pytest.mark.parametrize("name", sorted(STORED))
def test_stored_rows_read_back_typed_and_write_the_same_json(name: str) -> None:
    event = decode(name, TENANT, AT, "subject", STORED[name])
    assert type(event) is EVENT_TYPES[name] and event.name == name
    assert event.payload() == STORED[name]


def test_typed_fields_carry_the_stored_values() -> None:
    pushed = decode("ManifestPushed", TENANT, AT, "app", STORED["ManifestPushed"])
    assert isinstance(pushed, ManifestPushed)
    assert pushed.image_tags == ("v1",) and pushed.first_push is True
    assert pushed.pushed_at == AT and pushed.subject == "app"
    closed = decode("FindingClosed", TENANT, AT, "app", STORED["FindingClosed"])
    assert isinstance(closed, FindingClosed)
    assert closed.first_observed_at == datetime(2026, 12, 1, 10, 0)  # naive, as stored
    assert closed.changes == ("status",)
    delta = decode("AdvisoriesChanged", TENANT, AT, "osv:PyPI", STORED["AdvisoriesChanged"])
    assert isinstance(delta, AdvisoriesChanged)
    assert delta.package_keys == (("PyPI", "django"), ("PyPI", "flask"))
    assert delta.subject == "osv:PyPI"


def test_subjects_name_what_each_event_is_about() -> None:
    events: list[Event] = [
        TagChanged(TENANT, AT, "repo", "v1"),
        RescanCompleted(TENANT, AT, 12),
        CoverageChanged(TENANT, AT, "repo", DIGEST, "INACTIVE", "SCAN_ELIGIBILITY_EXPIRED"),
        ScanCompleted(TENANT, AT, "repo", DIGEST),
        WebhookTest(TENANT, AT, "hook-1"),
    ]
    assert [e.subject for e in events] == ["repo", "12", "repo", "repo", "hook-1"]


def test_a_new_finding_event_writes_no_changes_key() -> None:
    payload = dict(STORED["FindingClosed"])
    del payload["changes"]
    event = decode("FindingCreated", TENANT, AT, "app", payload)
    assert "changes" not in event.payload()


@pytest.mark.parametrize(
    ("name", "payload", "reason"),
    [
        ("SomethingNew", {"a": 1}, "not an event type"),
        ("ScanCompleted", {"imageDigest": DIGEST}, "repositoryName"),
        ("ScanCompleted", {**STORED["ScanCompleted"], "layersRead": "two"}, "layersRead"),
        ("TagChanged", {**STORED["TagChanged"], "imageTag": ["v1"]}, "imageTag"),
        ("FindingClosed", {**STORED["FindingClosed"], "updatedAt": "yesterday"}, "ValueError"),
        ("CoverageChanged", {"repositoryName": "app", "imageDigest": DIGEST}, "scanStatus"),
    ],
)
def test_rows_that_are_not_events_read_as_unreadable(
    name: str, payload: dict[str, object], reason: str
) -> None:
    event = decode(name, TENANT, AT, "s", payload)
    assert isinstance(event, Unreadable)
    assert event.name == name and event.subject == "s" and reason in event.reason
    assert event.payload() == payload
