"""Every event the outbox carries, as a typed value: the one place event names are defined.

An event is a frozen dataclass with its `NAME` (the stored `event_type`), the `VERSION` of its
payload schema, the tenant and time it happened, and typed fields. Producers construct one and
append it (`uow.outbox.append(event)`); consumers read it back typed (`OutboxEvent.event`) and
use its fields. The stored payload is JSON with the field names written so far (`wire` names,
camelCase), so rows written before these types existed read back unchanged; a field added later
needs a default, which old rows take.

A row that cannot be read as its type (an unknown name, a payload missing a field) reads back
as `Unreadable`, so one damaged row never stops a reader: consumers skip it or report it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, field
from datetime import datetime
from typing import Any, ClassVar, Self

from dockwatch.model.event_payload import (
    decode_value,
    encode_value,
    payload_fields,
    payload_hints,
    wire_field,
    wire_name,
)
from dockwatch.model.identity import Tenant
from dockwatch.value_class import frozen


@frozen
class Event:
    """The common part: who it happened to and when."""

    NAME: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1

    tenant: Tenant
    at: datetime

    @property
    def name(self) -> str:
        """The stored `event_type`."""
        return self.NAME

    @property
    def subject(self) -> str:
        """What the event is about (a repository, a source, a subscription): an index key."""
        raise NotImplementedError

    def payload(self) -> dict[str, Any]:
        """The stored JSON object."""
        hints = payload_hints(type(self))
        out: dict[str, Any] = {}
        for f in payload_fields(type(self)):
            value = getattr(self, f.name)
            if f.metadata.get("omit_empty") and not value:
                continue
            out[wire_name(f)] = encode_value(value) if hints[f.name] is not Any else value
        return out

    @classmethod
    def from_payload(cls, tenant: Tenant, at: datetime, payload: Mapping[str, Any]) -> Self:
        """The event a stored payload describes; KeyError/TypeError/ValueError when it does not."""
        hints = payload_hints(cls)
        values: dict[str, Any] = {}
        for f in payload_fields(cls):
            key = wire_name(f)
            if key in payload:
                values[f.name] = decode_value(hints[f.name], payload[key], key)
            elif f.default is not MISSING:
                values[f.name] = f.default
            elif f.default_factory is not MISSING:
                values[f.name] = f.default_factory()
            else:
                raise KeyError(key)
        return cls(tenant, at, **values)


# --- registry ---------------------------------------------------------------------------------


@frozen
class ManifestPushed(Event):
    """A manifest was pushed (also a re-push of a stored digest, which moves `lastPushedAt`)."""

    NAME: ClassVar[str] = "ManifestPushed"

    repository_name: str
    image_digest: str
    image_tags: tuple[str, ...] = ()
    media_type: str | None = None
    artifact_type: str | None = None
    subject_digest: str | None = wire_field("subject")
    """The manifest's OCI `subject` (a referrer's target)."""
    first_push: bool = False
    pushed_at: datetime | None = None
    image_tag: str | None = field(default=None, metadata={"omit_empty": True})
    """The tag the push named, when the registry records it."""

    @property
    def subject(self) -> str:
        return self.repository_name


@frozen
class ManifestDeleted(Event):
    """A manifest was deleted from a repository (its tags with it)."""

    NAME: ClassVar[str] = "ManifestDeleted"

    repository_name: str
    image_digest: str
    image_tags: tuple[str, ...] = ()

    @property
    def subject(self) -> str:
        return self.repository_name


@frozen
class TagChanged(Event):
    """A tag was created, moved to another digest, or removed (`image_digest` None)."""

    NAME: ClassVar[str] = "TagChanged"

    repository_name: str
    image_tag: str
    previous_digest: str | None = None
    image_digest: str | None = None
    with_manifest: bool = field(default=False, metadata={"omit_empty": True})
    """The tag went with its manifest (a delete by digest), whose own event reports it."""

    @property
    def subject(self) -> str:
        return self.repository_name


# --- scanning ---------------------------------------------------------------------------------


@frozen
class ScanCompleted(Event):
    """An image was scanned (`trigger` "scan") or re-matched after an update ("rematch")."""

    NAME: ClassVar[str] = "ScanCompleted"

    repository_name: str
    image_digest: str
    image_tags: tuple[str, ...] = ()
    trigger: str = "scan"
    finding_severity_counts: Mapping[str, int] = field(default_factory=dict)
    db_version: int | None = None
    layers_read: int = 0
    rescan: bool = field(default=False, metadata={"omit_empty": True})
    """A later scan of an image whose earlier scan's results it holds: not the initial scan
    of its monitoring period (a re-match is never one either)."""

    @property
    def subject(self) -> str:
        return self.repository_name


@frozen
class BasicScanCompleted(Event):
    """A basic scan ended (`scan_status` COMPLETE or FAILED): ECR's "ECR Image Scan"."""

    NAME: ClassVar[str] = "BasicScanCompleted"

    repository_name: str
    image_digest: str
    scan_status: str
    image_tags: tuple[str, ...] = ()
    finding_severity_counts: Mapping[str, int] = field(default_factory=dict)
    """ECR severities (CRITICAL ... UNDEFINED) with at least one finding."""

    @property
    def subject(self) -> str:
        return self.repository_name


@frozen
class ScanFrequencyChanged(Event):
    """A configuration change moved repositories to another scan frequency: ECR's "ECR Scan
    Resource Change" (`SCAN_FREQUENCY_CHANGE`)."""

    NAME: ClassVar[str] = "ScanFrequencyChanged"

    scan_type: str
    """The registry's scan type after the change (BASIC or ENHANCED)."""
    repositories: tuple[tuple[str, ...], ...] = ()
    """(repository name, scan frequency, previous scan frequency), one per changed repository."""

    @property
    def subject(self) -> str:
        return "registry"


@frozen
class RescanCompleted(Event):
    """An advisory delta was applied to the images it affects."""

    NAME: ClassVar[str] = "RescanCompleted"

    version: int
    images_reevaluated: int = 0
    affected_pairs: int = 0
    packages_matched: int = 0
    signatures: int = 0
    findings_opened: int = 0
    findings_reopened: int = 0
    findings_updated: int = 0
    findings_closed: int = 0
    layers_read: int = 0
    shard: str | None = field(default=None, metadata={"omit_empty": True})
    """`k/n`: the rescan took the share `k` (from 0) of `n` of the update's images, when the
    update was split (`Settings.delta_shards`)."""

    @property
    def subject(self) -> str:
        return str(self.version)


@frozen
class CoverageChanged(Event):
    """An image's enhanced scan status or reason changed (`scan/coverage_state.py`)."""

    NAME: ClassVar[str] = "CoverageChanged"

    repository_name: str
    image_digest: str
    status_code: str
    reason: str

    @property
    def subject(self) -> str:
        return self.repository_name

    def payload(self) -> dict[str, Any]:
        return {
            "repositoryName": self.repository_name,
            "imageDigest": self.image_digest,
            "scanStatus": {"statusCode": self.status_code, "reason": self.reason},
        }

    @classmethod
    def from_payload(cls, tenant: Tenant, at: datetime, payload: Mapping[str, Any]) -> Self:
        status = payload["scanStatus"]
        return cls(
            tenant,
            at,
            decode_value(str, payload["repositoryName"], "repositoryName"),
            decode_value(str, payload["imageDigest"], "imageDigest"),
            decode_value(str, status["statusCode"], "statusCode"),
            decode_value(str, status["reason"], "reason"),
        )


# --- findings ---------------------------------------------------------------------------------


@frozen
class FindingChanged(Event):
    """A compact, immutable snapshot of a finding at a change; subscribers that want the
    Inspector `Finding` expand it (`findings.events.materialize`)."""

    finding_id: str
    detail_ref: str
    vulnerability_id: str
    status: str
    severity: str
    fix_available: str
    first_observed_at: datetime
    last_observed_at: datetime
    updated_at: datetime
    repository_name: str
    image_digest: str
    image_tags: tuple[str, ...] = ()
    pushed_at: datetime | None = None
    changes: tuple[str, ...] = field(default=(), metadata={"omit_empty": True})
    """The fields that changed (status, severity, ...); empty for a new finding."""

    @property
    def subject(self) -> str:
        return self.repository_name


@frozen
class FindingCreated(FindingChanged):
    NAME: ClassVar[str] = "FindingCreated"


@frozen
class FindingUpdated(FindingChanged):
    NAME: ClassVar[str] = "FindingUpdated"


@frozen
class FindingClosed(FindingChanged):
    NAME: ClassVar[str] = "FindingClosed"


# --- vulnerability data and webhooks ---------------------------------------------------------------


@frozen
class AdvisoriesChanged(Event):
    """A feed import created a database version; the keys name what a rescan must re-match."""

    NAME: ClassVar[str] = "AdvisoriesChanged"

    version: int
    source: str
    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    withdrawn: tuple[str, ...] = ()
    package_keys: tuple[tuple[str, ...], ...] = ()
    """(ecosystem, package name) pairs whose advisories changed."""
    cves: tuple[str, ...] = ()

    @property
    def subject(self) -> str:
        return self.source


@frozen
class WebhookTest(Event):
    """A ping for one subscription (`POST /api/v1/webhooks/{id}/test`), never sent to others."""

    NAME: ClassVar[str] = "WebhookTest"

    webhook_id: str

    @property
    def subject(self) -> str:
        return self.webhook_id


# --- pull policies ------------------------------------------------------------------------------


@frozen
class PullRefused(Event):
    """A manifest pull was refused by a pull policy (`pullpolicy/`): which image, under which
    policy, why, and the first findings that caused it."""

    NAME: ClassVar[str] = "PullRefused"

    repository_name: str
    image_digest: str
    reference: str
    policy_scope: str
    """`REGISTRY` or `REPOSITORY`: which policy refused."""
    reasons: tuple[str, ...] = ()
    """NOT_SCANNED, SCAN_STALE, EXPLOIT_AVAILABLE, SEVERITY."""
    vulnerability_ids: tuple[str, ...] = ()
    refused_digests: tuple[str, ...] = ()
    """The platform images refused (for an index: the ones that made it refused)."""

    @property
    def subject(self) -> str:
        return self.repository_name


@frozen
class Unreadable(Event):
    """A stored row that is not a readable event (an unknown name or a damaged payload)."""

    event_type: str
    stored_subject: str
    raw: Mapping[str, Any]
    reason: str

    @property
    def name(self) -> str:
        return self.event_type

    @property
    def subject(self) -> str:
        return self.stored_subject

    def payload(self) -> dict[str, Any]:
        return dict(self.raw)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.NAME: cls
    for cls in (
        ManifestPushed,
        ManifestDeleted,
        TagChanged,
        ScanCompleted,
        BasicScanCompleted,
        ScanFrequencyChanged,
        RescanCompleted,
        CoverageChanged,
        FindingCreated,
        FindingUpdated,
        FindingClosed,
        AdvisoriesChanged,
        WebhookTest,
        PullRefused,
    )
}
"""Event classes by stored name."""

FINDING_EVENTS: tuple[str, ...] = (FindingCreated.NAME, FindingUpdated.NAME, FindingClosed.NAME)


def decode(
    name: str, tenant: Tenant, at: datetime, subject: str, payload: Mapping[str, Any]
) -> Event:
    """The typed event of a stored row; `Unreadable` when it is none."""
    cls = EVENT_TYPES.get(name)
    if cls is None:
        return Unreadable(tenant, at, name, subject, payload, "not an event type dockwatch knows")
    try:
        return cls.from_payload(tenant, at, payload)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return Unreadable(tenant, at, name, subject, payload, f"{type(exc).__name__}: {exc}")


@frozen
class OutboxEvent:
    """One stored event: its outbox id (the order, and the base of delivery ids) and the event."""

    id: int
    event: Event

    @property
    def event_type(self) -> str:
        return self.event.name

    @property
    def tenant(self) -> Tenant:
        return self.event.tenant

    @property
    def created_at(self) -> datetime:
        return self.event.at
