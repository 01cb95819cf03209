"""Outbox events as Amazon EventBridge events, so consumers written for AWS work unchanged.

Every body is the EventBridge envelope `{version, id, detail-type, source, account, time,
region, resources, detail}` (REFERENCE.md §2):

- `FindingCreated|Updated|Closed` -> `aws.inspector2` / `Inspector2 Finding`; `detail` is the
  Inspector `Finding` without dockwatch's `evidence` (the event's payload as
  `findings.events.materialize` expands it: `{"finding": ..., "changes": [...]}`). Its timestamps are written the way AWS's
  own examples write them (`Dec 3, 2021, 6:02:30 PM`, UTC), because consumers parse that form.
- `ScanCompleted` -> `Inspector2 Scan` with hyphenated keys; `repository-name` carries the
  repository ARN; `finding-severity-counts` lists only the severities present, plus `TOTAL`. A
  re-match after a database update reports `scan-status: RESCAN_COMPLETE` (dockwatch's own value:
  Inspector sends scan events for initial scans only), so rules on `INITIAL_SCAN_COMPLETE` see
  exactly what they would see on AWS.
- `CoverageChanged` -> `Inspector2 Coverage` (`scanStatus.statusCodeValue`, as AWS spells it).
- `ManifestPushed`, `ManifestDeleted`, `TagChanged` -> `aws.ecr` / `ECR Image Action`.

The `id` is a UUID derived from (account, region, outbox id): a redelivery of an event carries
the same id and, since the outbox row never changes, the same bytes.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dockwatch.errors import DockwatchError
from dockwatch.model.identity import Tenant, image_arn, repository_arn
from dockwatch.registry.events import RegistryEvent
from dockwatch.storage.sql.outbox import OutboxEvent

SCAN_COMPLETED = "ScanCompleted"
FINDING_CREATED = "FindingCreated"
FINDING_UPDATED = "FindingUpdated"
FINDING_CLOSED = "FindingClosed"
COVERAGE_CHANGED = "CoverageChanged"
WEBHOOK_TEST = "WebhookTest"
"""A ping for one subscription (`POST /api/v1/webhooks/{id}/test`), never fanned out to others."""

DELIVERABLE_TYPES: tuple[str, ...] = (
    SCAN_COMPLETED,
    FINDING_CREATED,
    FINDING_UPDATED,
    FINDING_CLOSED,
    COVERAGE_CHANGED,
    RegistryEvent.MANIFEST_PUSHED.value,
    RegistryEvent.MANIFEST_DELETED.value,
    RegistryEvent.TAG_CHANGED.value,
)
"""Outbox event types a subscription may ask for (the others are internal, e.g. AdvisoriesChanged)."""

SEVERITY_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNTRIAGED")

EVENT_NAMESPACE = uuid.UUID("4b782a98-43a9-4d83-aa81-846cfeceb922")
"""Fixed namespace for event ids; changing it would change every id already delivered."""

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Unrenderable(DockwatchError):
    """An outbox event that has no EventBridge shape, or whose payload lacks what it needs."""

    def __init__(self, outbox_id: int, event_type: str, reason: str) -> None:
        super().__init__(f"event {outbox_id} ({event_type}) cannot be rendered: {reason}")
        self.outbox_id = outbox_id
        self.event_type = event_type
        self.reason = reason


def event_id(account_id: str, region: str, outbox_id: int) -> str:
    """The stable EventBridge `id` of one outbox event."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{account_id}/{region}/{outbox_id}"))


def eventbridge_time(at: datetime) -> str:
    """The envelope's `time`: ISO 8601 in UTC to the second, as EventBridge writes it."""
    return _utc(at).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_time(value: str) -> str:
    """An ISO 8601 time as AWS's finding events write it (`Dec 3, 2021, 6:02:30 PM`, UTC).

    Written by hand rather than with `strftime("%b ... %p")`, whose month and AM/PM names
    follow the process locale. Anything that is not an ISO time is returned unchanged.
    """
    try:
        at = _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return value
    hour = at.hour % 12 or 12
    half = "AM" if at.hour < 12 else "PM"
    return f"{_MONTHS[at.month - 1]} {at.day}, {at.year}, {hour}:{at.minute:02d}:{at.second:02d} {half}"


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


Rendered = tuple[str, str, list[str], dict[str, Any]]
"""(detail-type, source, resources, detail)."""


def to_eventbridge(event: OutboxEvent) -> dict[str, Any]:
    """The EventBridge envelope of one outbox event; `Unrenderable` when it has none."""
    render = _RENDERERS.get(event.event_type)
    if render is None:
        raise Unrenderable(event.id, event.event_type, "not a deliverable event type")
    try:
        detail_type, source, resources, detail = render(event)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise Unrenderable(event.id, event.event_type, f"{type(exc).__name__}: {exc}") from exc
    return {
        "version": "0",
        "id": event_id(event.account_id, event.region, event.id),
        "detail-type": detail_type,
        "source": source,
        "account": event.account_id,
        "time": eventbridge_time(event.created_at),
        "region": event.region,
        "resources": resources,
        "detail": detail,
    }


def encode(envelope: dict[str, Any]) -> bytes:
    """The request body: compact JSON, the same bytes for the same envelope."""
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- renderers ----------------------------------------------------------------------------------


def _finding(event: OutboxEvent) -> Rendered:
    finding = copy.deepcopy(event.payload["finding"])
    if not isinstance(finding, dict):
        raise TypeError("finding is not an object")
    finding.pop("evidence", None)
    for key in ("firstObservedAt", "lastObservedAt", "updatedAt"):
        _humanize(finding, key)
    details = finding.get("packageVulnerabilityDetails")
    if isinstance(details, dict):
        _humanize(details, "vendorCreatedAt")
        _humanize(details, "vendorUpdatedAt")
    exploit = finding.get("exploitabilityDetails")
    if isinstance(exploit, dict):
        _humanize(exploit, "lastKnownExploitAt")
    resources: list[str] = []
    for resource in finding.get("resources") or []:
        if not isinstance(resource, dict):
            continue
        if isinstance(resource.get("id"), str):
            resources.append(resource["id"])
        image = (resource.get("details") or {}).get("awsEcrContainerImage")
        if isinstance(image, dict):
            _humanize(image, "pushedAt")
    return "Inspector2 Finding", "aws.inspector2", resources, finding


def _humanize(doc: dict[str, Any], key: str) -> None:
    if isinstance(doc.get(key), str):
        doc[key] = human_time(doc[key])


def _scan(event: OutboxEvent) -> Rendered:
    p = event.payload
    arn = repository_arn(Tenant(event.account_id, event.region), str(p["repositoryName"]))
    raw = {str(k): int(v) for k, v in (p.get("findingSeverityCounts") or {}).items()}
    present = {k: n for k, n in raw.items() if n > 0}
    ordered = [s for s in SEVERITY_ORDER if s in present] + sorted(
        k for k in present if k not in SEVERITY_ORDER
    )
    counts = {s: present[s] for s in ordered}
    counts["TOTAL"] = sum(present.values())
    initial = p.get("trigger", "scan") == "scan"
    detail = {
        "scan-status": "INITIAL_SCAN_COMPLETE" if initial else "RESCAN_COMPLETE",
        "repository-name": arn,
        "finding-severity-counts": counts,
        "image-digest": str(p["imageDigest"]),
        "image-tags": [str(t) for t in p.get("imageTags") or []],
        "version": "1.0",
    }
    return "Inspector2 Scan", "aws.inspector2", [arn], detail


def _coverage(event: OutboxEvent) -> Rendered:
    p = event.payload
    status = p["scanStatus"]
    arn = image_arn(
        Tenant(event.account_id, event.region), str(p["repositoryName"]), str(p["imageDigest"])
    )
    detail = {
        "scanStatus": {"reason": status["reason"], "statusCodeValue": status["statusCode"]},
        "scanType": "PACKAGE",
        "eventTimestamp": _utc(event.created_at).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "version": "1.0",
    }
    return "Inspector2 Coverage", "aws.inspector2", [arn], detail


def _image_action(
    action: str,
    repository: Any,
    digest: Any,
    tag: Any,
    media_type: Any = None,
    artifact_type: Any = None,
) -> Rendered:
    detail: dict[str, Any] = {
        "result": "SUCCESS",
        "repository-name": str(repository),
        "image-digest": str(digest),
        "action-type": action,
    }
    if tag:
        detail["image-tag"] = str(tag)
    if media_type:
        detail["manifest-media-type"] = str(media_type)
    if artifact_type:
        detail["artifact-media-type"] = str(artifact_type)
    return "ECR Image Action", "aws.ecr", [], detail


def _pushed(event: OutboxEvent) -> Rendered:
    p = event.payload
    tags = list(p.get("imageTags") or [])
    # the tag the push named, when the registry records it; else the image's only tag
    tag = p.get("imageTag") or (tags[0] if len(tags) == 1 else None)
    return _image_action(
        "PUSH",
        p["repositoryName"],
        p["imageDigest"],
        tag,
        p.get("mediaType"),
        p.get("artifactType"),
    )


def _deleted(event: OutboxEvent) -> Rendered:
    p = event.payload
    tags = list(p.get("imageTags") or [])
    return _image_action("DELETE", p["repositoryName"], p["imageDigest"], tags[0] if tags else None)


def _tag_changed(event: OutboxEvent) -> Rendered:
    p = event.payload
    if p.get("imageDigest"):
        return _image_action("PUSH", p["repositoryName"], p["imageDigest"], p["imageTag"])
    return _image_action("DELETE", p["repositoryName"], p["previousDigest"], p["imageTag"])


def _test(event: OutboxEvent) -> Rendered:
    detail = {
        "webhookId": str(event.payload["webhookId"]),
        "message": "a test event from dockwatch: the subscription reaches this endpoint",
    }
    return "Dockwatch Webhook Test", "dockwatch", [], detail


_RENDERERS: dict[str, Callable[[OutboxEvent], Rendered]] = {
    FINDING_CREATED: _finding,
    FINDING_UPDATED: _finding,
    FINDING_CLOSED: _finding,
    SCAN_COMPLETED: _scan,
    COVERAGE_CHANGED: _coverage,
    RegistryEvent.MANIFEST_PUSHED.value: _pushed,
    RegistryEvent.MANIFEST_DELETED.value: _deleted,
    RegistryEvent.TAG_CHANGED.value: _tag_changed,
    WEBHOOK_TEST: _test,
}
