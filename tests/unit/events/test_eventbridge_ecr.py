"""The `aws.ecr` events, checked against the examples in the Amazon ECR User Guide ("Amazon ECR
events and EventBridge": image push, image deletion, basic image scan; "EventBridge events sent
for enhanced scanning": repository scan frequency change; REFERENCE.md §2.5): each example's
keys and value types, with ARNs computed here from the account, region and repository. The
flows push and delete through the real registry and read what a subscriber receives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dockwatch.app import Services, build
from dockwatch.config import Settings
from dockwatch.errors import InvalidInput
from dockwatch.events import subscriptions
from dockwatch.events.eventbridge import DELIVERABLE_TYPES, Unrenderable, to_eventbridge
from dockwatch.model.events import (
    BasicScanCompleted,
    OutboxEvent,
    ScanFrequencyChanged,
    TagChanged,
    decode,
)
from dockwatch.model.identity import Tenant
from tests.builders.layers import make_image, make_layer
from tests.builders.push import push_image
from tests.unit.events.capture import Capture

ACCOUNT, REGION = "123456789012", "us-east-1"
TENANT = Tenant(ACCOUNT, REGION)
AT = datetime(2019, 10, 29, 2, 36, 48, tzinfo=UTC)
DIGEST = "sha256:" + "7f5b2640" * 8


def _render(event: Any, outbox_id: int = 3) -> dict[str, Any]:
    """Through the stored form, as the deliverer reads it back."""
    stored = decode(event.name, event.tenant, event.at, event.subject, event.payload())
    return to_eventbridge(OutboxEvent(outbox_id, stored))


def _repo_arn(name: str, tenant: Tenant = TENANT) -> str:
    return f"arn:aws:ecr:{tenant.region}:{tenant.account_id}:repository/{name}"


# --- ECR Image Scan (basic scanning) ------------------------------------------------------------


def test_basic_scan_matches_the_ecr_image_scan_example() -> None:
    event = BasicScanCompleted(
        TENANT,
        AT,
        repository_name="my-repository-name",
        image_digest=DIGEST,
        scan_status="COMPLETE",
        image_tags=(),
        finding_severity_counts={"CRITICAL": 10, "MEDIUM": 9, "LOW": 0},
    )
    env = _render(event)
    assert (env["detail-type"], env["source"]) == ("ECR Image Scan", "aws.ecr")
    assert env["resources"] == [_repo_arn("my-repository-name")]
    assert env["time"] == "2019-10-29T02:36:48Z"
    # the example: {"scan-status": "COMPLETE", "repository-name": "my-repository-name",
    # "finding-severity-counts": {"CRITICAL": 10, "MEDIUM": 9}, "image-digest": ..., "image-tags": []}
    assert env["detail"] == {
        "scan-status": "COMPLETE",
        "repository-name": "my-repository-name",  # the name here, not the ARN
        "finding-severity-counts": {"CRITICAL": 10, "MEDIUM": 9},
        "image-digest": DIGEST,
        "image-tags": [],
    }


# --- ECR Scan Resource Change --------------------------------------------------------------------


def test_frequency_change_matches_the_scan_resource_change_example() -> None:
    event = ScanFrequencyChanged(
        TENANT,
        AT,
        scan_type="ENHANCED",
        repositories=(
            ("repository-1", "SCAN_ON_PUSH", "MANUAL"),
            ("repository-2", "CONTINUOUS_SCAN", "SCAN_ON_PUSH"),
        ),
    )
    env = _render(event)
    assert (env["detail-type"], env["source"]) == ("ECR Scan Resource Change", "aws.ecr")
    assert env["resources"] == []
    assert env["detail"] == {
        "action-type": "SCAN_FREQUENCY_CHANGE",
        "repositories": [
            {
                "repository-name": "repository-1",
                "repository-arn": _repo_arn("repository-1"),
                "scan-frequency": "SCAN_ON_PUSH",
                "previous-scan-frequency": "MANUAL",
            },
            {
                "repository-name": "repository-2",
                "repository-arn": _repo_arn("repository-2"),
                "scan-frequency": "CONTINUOUS_SCAN",
                "previous-scan-frequency": "SCAN_ON_PUSH",
            },
        ],
        "resource-type": "REPOSITORY",
        "scan-type": "ENHANCED",
    }


def test_the_new_types_can_be_subscribed_to() -> None:
    names = ["BasicScanCompleted", "ScanFrequencyChanged", "CoverageChanged"]
    for name in names:
        spec = subscriptions.parse_spec({"url": "https://hooks.example/in", "eventTypes": [name]})
        assert spec.event_types == (name,)
        assert name in DELIVERABLE_TYPES
    with pytest.raises(InvalidInput, match="AdvisoriesChanged"):  # internal: not selectable
        subscriptions.parse_spec(
            {"url": "https://hooks.example/in", "eventTypes": ["AdvisoriesChanged"]}
        )


def test_a_tag_reported_by_its_manifest_event_is_not_sent_twice() -> None:
    removed = TagChanged(TENANT, AT, "r", "v1", previous_digest=DIGEST, with_manifest=True)
    with pytest.raises(Unrenderable, match="reported by its manifest"):
        _render(removed)
    alone = TagChanged(TENANT, AT, "r", "v1", previous_digest=DIGEST)
    assert _render(alone)["detail"]["action-type"] == "DELETE"


# --- ECR Image Action through the registry ------------------------------------------------------


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build(Settings(data_dir=tmp_path / "d", test_mode=True))
    yield built
    built.close()


def _action(
    services: Services, action: str, repository: str, digest: str, tag: str | None
) -> dict[str, Any]:
    """The example's body: `resources: []`, detail {result, repository-name, image-digest,
    action-type, image-tag}, plus `manifest-media-type` for a push."""
    detail: dict[str, Any] = {
        "result": "SUCCESS",
        "repository-name": repository,
        "image-digest": digest,
        "action-type": action,
    }
    if tag is not None:
        detail["image-tag"] = tag
    if action == "PUSH":
        detail["manifest-media-type"] = "application/vnd.oci.image.manifest.v1+json"
    t = services.tenant
    return {
        "source": "aws.ecr",
        "detail-type": "ECR Image Action",
        "account": t.account_id,
        "region": t.region,
        "resources": [],
        "detail": detail,
    }


def _seen(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = ("source", "detail-type", "account", "region", "resources", "detail")
    return [{k: b[k] for k in keys} for b in bodies]


def test_one_push_is_one_image_action_and_each_delete_one_more(services: Services) -> None:
    capture = Capture(services)
    image = make_image([make_layer({"etc/hostname": "x"})])
    digest = push_image(services, "ecr/app", image, tag="v1")
    assert _seen(capture.take()) == [_action(services, "PUSH", "ecr/app", digest, "v1")]
    # the same image under a second tag, then again under the first (a re-push)
    push_image(services, "ecr/app", image, tag="v2")
    push_image(services, "ecr/app", image, tag="v1")
    assert _seen(capture.take()) == [
        _action(services, "PUSH", "ecr/app", digest, "v2"),
        _action(services, "PUSH", "ecr/app", digest, "v1"),
    ]
    # moving v2 to another image: one push of that image
    other = push_image(services, "ecr/app", make_image([make_layer({"o": "y"})]), tag="v2")
    assert _seen(capture.take()) == [_action(services, "PUSH", "ecr/app", other, "v2")]
    # untagging: one DELETE naming the tag
    services.registry.manifests.delete("ecr/app", "v1")
    assert _seen(capture.take()) == [_action(services, "DELETE", "ecr/app", digest, "v1")]
    # deleting by digest an image that has a tag: one DELETE, not one more per tag
    services.registry.manifests.delete("ecr/app", other)
    assert _seen(capture.take()) == [_action(services, "DELETE", "ecr/app", other, "v2")]
