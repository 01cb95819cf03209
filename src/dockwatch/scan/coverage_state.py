"""The one way scan states are written, so that every coverage change is reported.

Inspector sends an "Inspector2 Coverage" event whenever the coverage of a resource changes. An
image's coverage is its enhanced scan state's (status, reason); `record_state` stores a new
state and, in the same unit of work, appends a `CoverageChanged` event when that pair differs
from the stored one. A state rewritten with the same pair (a re-scan that stays
ACTIVE / SUCCESSFUL, a re-match) writes no event, so continuous re-scans never flood
subscribers. `forget_state` removes a state and reports the image's coverage ending, with the
reason it ends (deactivation, deletion). Basic scan states are ECR's, not Inspector coverage:
they are stored without a coverage event.
"""

from __future__ import annotations

from datetime import datetime

from dockwatch.model.events import CoverageChanged
from dockwatch.model.identity import Tenant
from dockwatch.storage.scan_repo import ScanState
from dockwatch.storage.unit_of_work import UnitOfWork

ENHANCED = "ENHANCED"

COMPLETED_REASONS = frozenset({"SUCCESSFUL", "UNSUPPORTED_OS"})
"""Reasons of an enhanced state that holds the results of a completed scan."""


def _coverage(state: ScanState | None) -> tuple[str, str] | None:
    """The (status, reason) Inspector shows for a state; None when it is not coverage."""
    if state is None or state.scan_type != ENHANCED:
        return None
    return state.status_code, state.reason


def record_state(
    uow: UnitOfWork, tenant: Tenant, state: ScanState, at: datetime
) -> ScanState | None:
    """Store `state`; report a coverage change. Returns the state it replaced (None: new)."""
    previous = uow.scans.get_scan(state.repository_id, state.digest)
    uow.scans.put_scan(tenant, state, at)
    now = _coverage(state)
    if now is not None and now != _coverage(previous):
        name = uow.registry.repository_name(state.repository_id)
        uow.outbox.append(CoverageChanged(tenant, at, name, state.digest, *now))
    return previous


def forget_state(
    uow: UnitOfWork, tenant: Tenant, repository_id: int, digest: str, at: datetime, reason: str
) -> ScanState | None:
    """Remove an image's scan state; an enhanced one ends its coverage, reported INACTIVE with
    `reason` (PENDING_DISABLE at deactivation, RESOURCE_TERMINATED for a deleted image).
    Returns the removed state."""
    previous = uow.scans.get_scan(repository_id, digest)
    if previous is None:
        return None
    uow.scans.delete_scan(repository_id, digest)
    if _coverage(previous) is not None:
        name = uow.registry.repository_name(repository_id)
        uow.outbox.append(CoverageChanged(tenant, at, name, digest, "INACTIVE", reason))
    return previous


def is_initial_scan(previous: ScanState | None) -> bool:
    """Whether a completed enhanced scan is the image's initial one: Inspector's "initial scan
    complete". It is, unless the state it replaces already held enhanced results; an image
    whose monitoring had expired starts a new monitoring period, so its next scan is initial
    again."""
    if previous is None or previous.scan_type != ENHANCED:
        return True
    return previous.reason not in COMPLETED_REASONS
