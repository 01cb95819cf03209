"""Which repositories a configuration change moves to another scan frequency.

ECR reports such a change as an "ECR Scan Resource Change" event (`SCAN_FREQUENCY_CHANGE`)
naming each repository with its new and previous frequency. `frequency_changes` computes that
list from the configurations before and after (pure, tested on its own); `append_frequency_events`
writes it to the outbox in the change's unit of work, in events of at most
`REPOSITORIES_PER_EVENT` repositories so that a change over a large registry stays within
EventBridge's event size.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from dockwatch.model.events import ScanFrequencyChanged
from dockwatch.model.identity import Tenant
from dockwatch.storage.unit_of_work import UnitOfWork
from dockwatch.value_class import frozen

from .config import RegistryScanningConfiguration, ScanFrequency

REPOSITORIES_PER_EVENT = 100
"""About 200 bytes a repository: 100 keep one event far below EventBridge's 256 KB."""


@frozen
class FrequencyChange:
    """One repository whose scan frequency changed."""

    repository: str
    frequency: ScanFrequency
    previous: ScanFrequency


def frequency_changes(
    before: RegistryScanningConfiguration,
    after: RegistryScanningConfiguration,
    repositories: Iterable[tuple[str, bool, bool]],
) -> list[FrequencyChange]:
    """For each (name, scan-on-push flag before, flag after): its change, if any, by name."""
    out = []
    for name, flag_before, flag_after in sorted(repositories):
        was = before.frequency_for(name, flag_before)
        now = after.frequency_for(name, flag_after)
        if was is not now:
            out.append(FrequencyChange(name, now, was))
    return out


def append_frequency_events(
    uow: UnitOfWork,
    tenant: Tenant,
    before: RegistryScanningConfiguration,
    after: RegistryScanningConfiguration,
    at: datetime,
    flags: dict[str, bool] | None = None,
) -> list[FrequencyChange]:
    """Append the `ScanFrequencyChanged` events of a change. `flags` gives the scan-on-push
    flags after the change where they differ from the stored ones (a flag change)."""
    rows = uow.registry.repository_rows(tenant)
    changed = flags or {}
    changes = frequency_changes(
        before, after, ((r.name, r.scan_on_push, changed.get(r.name, r.scan_on_push)) for r in rows)
    )
    for i in range(0, len(changes), REPOSITORIES_PER_EVENT):
        chunk = changes[i : i + REPOSITORIES_PER_EVENT]
        repositories = tuple((c.repository, c.frequency.value, c.previous.value) for c in chunk)
        uow.outbox.append(ScanFrequencyChanged(tenant, at, after.scan_type.value, repositories))
    return changes
