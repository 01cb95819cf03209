"""Reconciling stored findings with a new match result (pure; no I/O).

Identity is (image resource, vulnerability id). A finding no longer matched is CLOSED; one that
matches again within 7 days of closing reopens with the same id, a later recurrence is a new
finding (Inspector's documented lifecycle). SUPPRESSED findings stay suppressed while matched:
suppression is applied after reconciling, by the suppression rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from dockwatch.model.identity import ImageResource
from dockwatch.value_class import frozen

REOPEN_WINDOW = timedelta(days=7)


class FindingStatus(StrEnum):
    """Inspector's finding states."""

    ACTIVE = "ACTIVE"
    SUPPRESSED = "SUPPRESSED"
    CLOSED = "CLOSED"


def finding_id(
    resource: ImageResource, vulnerability_id: str, generation: int = 0, epoch: int = 0
) -> str:
    """A stable content hash naming a finding (never a database serial).

    `generation` counts recurrences after the reopen window, so a later recurrence of the same
    vulnerability gets a new id while a reopen keeps the old one. `epoch` counts the times
    enhanced scanning was turned off (its findings purged): a re-activation's findings are new
    findings with new ids, never the old ones revived.
    """
    parts = [
        resource.tenant.account_id,
        resource.tenant.region,
        resource.repository,
        resource.digest,
        vulnerability_id,
        str(generation),
    ]
    text = "\0".join([*parts, f"epoch:{epoch}"] if epoch else parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@frozen
class StoredFinding:
    """What reconciling needs to know about a stored finding."""

    id: str
    vulnerability_id: str
    status: FindingStatus
    closed_at: datetime | None
    generation: int


@dataclass(slots=True)
class Reconciled:
    """The outcome: which findings to open, reopen, keep, and close."""

    opened: list[tuple[str, str, int]] = field(default_factory=list)
    """(finding id, vulnerability id, generation) of new findings."""
    reopened: list[str] = field(default_factory=list)
    """Closed less than 7 days ago and matching again: back to ACTIVE, same id."""
    unchanged: list[str] = field(default_factory=list)
    """Still matched (ACTIVE or SUPPRESSED)."""
    closed: list[str] = field(default_factory=list)
    """No longer matched."""


def reconcile(
    resource: ImageResource,
    stored: Mapping[str, StoredFinding],
    current: Iterable[str],
    now: datetime,
    epoch: int = 0,
) -> Reconciled:
    """Compare the stored findings of `resource` (by vulnerability id) with the vulnerability
    ids matched now (`epoch`: see `finding_id`)."""
    out = Reconciled()
    matched = set(current)
    for vuln in sorted(matched):
        old = stored.get(vuln)
        if old is None:
            out.opened.append((finding_id(resource, vuln, epoch=epoch), vuln, 0))
        elif old.status is not FindingStatus.CLOSED:
            out.unchanged.append(old.id)
        elif old.closed_at is not None and now - old.closed_at <= REOPEN_WINDOW:
            out.reopened.append(old.id)
        else:
            generation = old.generation + 1
            out.opened.append((finding_id(resource, vuln, generation, epoch), vuln, generation))
    for vuln, old in sorted(stored.items()):
        if vuln not in matched and old.status is not FindingStatus.CLOSED:
            out.closed.append(old.id)
    return out
