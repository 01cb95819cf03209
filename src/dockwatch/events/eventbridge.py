"""Outbox events as Amazon EventBridge events, so consumers written for AWS work unchanged.

Every body is the EventBridge envelope `{version, id, detail-type, source, account, time,
region, resources, detail}` (REFERENCE.md §2):

- `FindingCreated|Updated|Closed` -> `aws.inspector2` / `Inspector2 Finding`; `detail` is the
  Inspector `Finding` without dockwatch's `evidence` (the finding snapshot of the event as
  `findings.events.materialize` expands it). Its timestamps are written the way AWS's own
  examples write them (`Dec 3, 2021, 6:02:30 PM`, UTC), because consumers parse that form.
- `ScanCompleted` -> `Inspector2 Scan` with hyphenated keys; `repository-name` carries the
  repository ARN; `finding-severity-counts` lists only the severities present, plus `TOTAL`.
  An image's initial enhanced scan (of its monitoring period) reports `scan-status:
  INITIAL_SCAN_COMPLETE`, the only value Inspector sends; a later scan of the same image (a
  re-push, a re-match after a database update) reports `RESCAN_COMPLETE`, dockwatch's own
  value, so rules on `INITIAL_SCAN_COMPLETE` see exactly what they would see on AWS.
- `CoverageChanged` -> `Inspector2 Coverage` (`scanStatus.statusCodeValue`, as AWS spells it).
- `ManifestPushed`, `ManifestDeleted`, `TagChanged`, `BasicScanCompleted`,
  `ScanFrequencyChanged` -> the `aws.ecr` shapes of `eventbridge_ecr.py`.

The `id` is a UUID derived from (account, region, outbox id): a redelivery of an event carries
the same id and, since the outbox row never changes, the same bytes.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dockwatch.errors import DockwatchError
from dockwatch.model.events import (
    FINDING_EVENTS,
    BasicScanCompleted,
    CoverageChanged,
    Event,
    FindingChanged,
    ManifestDeleted,
    ManifestPushed,
    OutboxEvent,
    ScanCompleted,
    ScanFrequencyChanged,
    TagChanged,
    Unreadable,
    WebhookTest,
)
from dockwatch.model.identity import image_arn, repository_arn
from dockwatch.model.times import as_utc

from . import eventbridge_ecr as ecr
from .eventbridge_ecr import Rendered

DELIVERABLE_TYPES: tuple[str, ...] = (
    ScanCompleted.NAME,
    *FINDING_EVENTS,
    CoverageChanged.NAME,
    ManifestPushed.NAME,
    ManifestDeleted.NAME,
    TagChanged.NAME,
    BasicScanCompleted.NAME,
    ScanFrequencyChanged.NAME,
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
    return as_utc(at).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_time(value: str) -> str:
    """An ISO 8601 time as AWS's finding events write it (`Dec 3, 2021, 6:02:30 PM`, UTC).

    Written by hand rather than with `strftime("%b ... %p")`, whose month and AM/PM names
    follow the process locale. Anything that is not an ISO time is returned unchanged.
    """
    try:
        at = as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return value
    hour = at.hour % 12 or 12
    half = "AM" if at.hour < 12 else "PM"
    return f"{_MONTHS[at.month - 1]} {at.day}, {at.year}, {hour}:{at.minute:02d}:{at.second:02d} {half}"


def deliverable(event: Event) -> bool:
    """Whether an outbox event becomes an EventBridge event (webhook tests aside): a
    deliverable type, and not a tag change its manifest's event already reports."""
    if event.name not in DELIVERABLE_TYPES:
        return False
    return not (isinstance(event, TagChanged) and event.with_manifest)


def to_eventbridge(event: OutboxEvent, finding: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The EventBridge envelope of one outbox event; `Unrenderable` when it has none.

    A finding event is rendered from `finding`, the Inspector `Finding` its snapshot expands
    to (`findings.events.materialize`)."""
    typed = event.event
    if not deliverable(typed) and not isinstance(typed, WebhookTest):
        if isinstance(typed, TagChanged):
            raise Unrenderable(event.id, event.event_type, "reported by its manifest's event")
        raise Unrenderable(event.id, event.event_type, "not a deliverable event type")
    if isinstance(typed, Unreadable):
        raise Unrenderable(event.id, event.event_type, typed.reason)
    try:
        if isinstance(typed, FindingChanged):
            if finding is None:
                raise Unrenderable(event.id, event.event_type, "the finding was not materialized")
            detail_type, source, resources, detail = _finding(finding)
        else:
            rendered = _render(typed)
            if rendered is None:
                raise Unrenderable(event.id, event.event_type, "not a deliverable event type")
            detail_type, source, resources, detail = rendered
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise Unrenderable(event.id, event.event_type, f"{type(exc).__name__}: {exc}") from exc
    tenant = event.tenant
    return {
        "version": "0",
        "id": event_id(tenant.account_id, tenant.region, event.id),
        "detail-type": detail_type,
        "source": source,
        "account": tenant.account_id,
        "time": eventbridge_time(event.created_at),
        "region": tenant.region,
        "resources": resources,
        "detail": detail,
    }


def encode(envelope: dict[str, Any]) -> bytes:
    """The request body: compact JSON, the same bytes for the same envelope."""
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- renderers ----------------------------------------------------------------------------------


def _finding(doc: Mapping[str, Any]) -> Rendered:
    finding = copy.deepcopy(dict(doc))
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


def _scan(event: ScanCompleted) -> Rendered:
    arn = repository_arn(event.tenant, event.repository_name)
    present = {str(k): int(n) for k, n in event.finding_severity_counts.items() if int(n) > 0}
    ordered = [s for s in SEVERITY_ORDER if s in present] + sorted(
        k for k in present if k not in SEVERITY_ORDER
    )
    counts = {s: present[s] for s in ordered}
    counts["TOTAL"] = sum(present.values())
    initial = event.trigger == "scan" and not event.rescan
    detail = {
        "scan-status": "INITIAL_SCAN_COMPLETE" if initial else "RESCAN_COMPLETE",
        "repository-name": arn,
        "finding-severity-counts": counts,
        "image-digest": event.image_digest,
        "image-tags": list(event.image_tags),
        "version": "1.0",
    }
    return "Inspector2 Scan", "aws.inspector2", [arn], detail


def _coverage(event: CoverageChanged) -> Rendered:
    arn = image_arn(event.tenant, event.repository_name, event.image_digest)
    detail = {
        "scanStatus": {"reason": event.reason, "statusCodeValue": event.status_code},
        "scanType": "PACKAGE",
        "eventTimestamp": as_utc(event.at).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "version": "1.0",
    }
    return "Inspector2 Coverage", "aws.inspector2", [arn], detail


def _test(event: WebhookTest) -> Rendered:
    detail = {
        "webhookId": event.webhook_id,
        "message": "a test event from dockwatch: the subscription reaches this endpoint",
    }
    return "Dockwatch Webhook Test", "dockwatch", [], detail


def _render(event: Event) -> Rendered | None:
    """The EventBridge parts of a non-finding event; None when it has no EventBridge shape."""
    if isinstance(event, ScanCompleted):
        return _scan(event)
    if isinstance(event, CoverageChanged):
        return _coverage(event)
    if isinstance(event, ManifestPushed):
        return ecr.pushed(event)
    if isinstance(event, ManifestDeleted):
        return ecr.deleted(event)
    if isinstance(event, TagChanged):
        return ecr.tag_changed(event)
    if isinstance(event, BasicScanCompleted):
        return ecr.image_scan(event)
    if isinstance(event, ScanFrequencyChanged):
        return ecr.scan_resource_change(event)
    if isinstance(event, WebhookTest):
        return _test(event)
    return None
