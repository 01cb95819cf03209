"""The `aws.ecr` EventBridge shapes (REFERENCE.md §2.5; Amazon ECR User Guide, "Amazon ECR events
and EventBridge" and "EventBridge events sent for enhanced scanning in Amazon ECR").

- `ECR Image Action`: one per push (`ManifestPushed`, naming the tag the push named) and one per
  delete (`ManifestDeleted`, or `TagChanged` for a tag removed on its own); a tag a push sets or
  a delete removes with its image is reported by that push's or delete's event only, so one push
  is one event, as on ECR. `resources` is empty, as in ECR's examples.
- `ECR Image Scan` (`BasicScanCompleted`): `scan-status` COMPLETE or FAILED, the repository
  *name*, `finding-severity-counts` with only the severities found; `resources` holds the
  repository ARN.
- `ECR Scan Resource Change` (`ScanFrequencyChanged`): `action-type` SCAN_FREQUENCY_CHANGE, one
  entry per repository with its ARN, new and previous frequency; `resources` is empty.
"""

from __future__ import annotations

from typing import Any

from dockwatch.model.events import (
    BasicScanCompleted,
    ManifestDeleted,
    ManifestPushed,
    ScanFrequencyChanged,
    TagChanged,
)
from dockwatch.model.identity import repository_arn

Rendered = tuple[str, str, list[str], dict[str, Any]]
"""(detail-type, source, resources, detail)."""

ECR = "aws.ecr"


def image_action(
    action: str,
    repository: str,
    digest: str,
    tag: str | None,
    media_type: str | None = None,
    artifact_type: str | None = None,
) -> Rendered:
    """An `ECR Image Action` (PUSH or DELETE, always SUCCESS: failed actions write no event)."""
    detail: dict[str, Any] = {
        "result": "SUCCESS",
        "repository-name": repository,
        "image-digest": digest,
        "action-type": action,
    }
    if tag:
        detail["image-tag"] = tag
    if media_type:
        detail["manifest-media-type"] = media_type
    if artifact_type:
        detail["artifact-media-type"] = artifact_type
    return "ECR Image Action", ECR, [], detail


def pushed(event: ManifestPushed) -> Rendered:
    """A push; its tag is the one the push named (rows from before that was recorded: the
    image's only tag)."""
    tags = event.image_tags
    tag = event.image_tag or (tags[0] if len(tags) == 1 else None)
    return image_action(
        "PUSH",
        event.repository_name,
        event.image_digest,
        tag,
        event.media_type,
        event.artifact_type,
    )


def deleted(event: ManifestDeleted) -> Rendered:
    """An image deleted by digest, with its tags."""
    tags = event.image_tags
    return image_action(
        "DELETE", event.repository_name, event.image_digest, tags[0] if tags else None
    )


def tag_changed(event: TagChanged) -> Rendered | None:
    """A tag set by a push (beyond the tag the push named) or removed on its own; None for a
    tag whose manifest's event reports it."""
    if event.with_manifest:
        return None
    if event.image_digest:
        return image_action("PUSH", event.repository_name, event.image_digest, event.image_tag)
    if event.previous_digest is None:
        raise ValueError("a removed tag names no previous digest")
    return image_action("DELETE", event.repository_name, event.previous_digest, event.image_tag)


def image_scan(event: BasicScanCompleted) -> Rendered:
    """A basic scan that ended."""
    detail = {
        "scan-status": event.scan_status,
        "repository-name": event.repository_name,
        "finding-severity-counts": {
            str(k): int(n) for k, n in event.finding_severity_counts.items() if int(n) > 0
        },
        "image-digest": event.image_digest,
        "image-tags": list(event.image_tags),
    }
    arn = repository_arn(event.tenant, event.repository_name)
    return "ECR Image Scan", ECR, [arn], detail


def scan_resource_change(event: ScanFrequencyChanged) -> Rendered:
    """Repositories moved to another scan frequency."""
    repositories = []
    for name, frequency, previous in event.repositories:
        repositories.append(
            {
                "repository-name": name,
                "repository-arn": repository_arn(event.tenant, name),
                "scan-frequency": frequency,
                "previous-scan-frequency": previous,
            }
        )
    detail = {
        "action-type": "SCAN_FREQUENCY_CHANGE",
        "repositories": repositories,
        "resource-type": "REPOSITORY",
        "scan-type": event.scan_type,
    }
    return "ECR Scan Resource Change", ECR, [], detail
