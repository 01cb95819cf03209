"""The worker's periodic pass trims the outbox: events past `events_retention_days` that every
subscriber has read leave; the retention never goes under ListUsageTotals' 30 days."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from dockwatch.clock import ControlledClock
from dockwatch.config import Settings
from dockwatch.model.events import ScanCompleted
from tests.unit.api.conftest import make_services

DIGEST = "sha256:" + "cd" * 32


def test_the_worker_purges_events_past_the_retention(tmp_path: Path) -> None:
    services = make_services(tmp_path, events_retention_days=30)
    clock = services.clock
    assert isinstance(clock, ControlledClock)
    try:
        now = clock.now()
        ages = [timedelta(days=31), timedelta(days=29)]
        with services.store.write() as uow:
            ids = [
                uow.outbox.append(
                    ScanCompleted(
                        services.tenant,
                        now - age,
                        repository_name="app",
                        image_digest=DIGEST,
                        finding_severity_counts={},
                        db_version=1,
                    )
                )  # fmt: skip
                for age in ages
            ]
            for subscriber in ("scanner", "webhooks"):
                uow.outbox.advance(subscriber, max(ids), now)

        def left() -> list[int]:
            with services.store.read() as uow:
                return [e.id for e in uow.outbox.read_after(0) if e.id in ids]

        services.worker.periodic()
        assert left() == [ids[1]]
        clock.advance(timedelta(days=2))
        services.worker.periodic()
        assert left() == []
    finally:
        services.close()


def test_a_retention_under_thirty_days_is_refused() -> None:
    assert Settings(events_retention_days=30).validate() == []
    assert Settings(events_retention_days=29).validate() == [
        "events_retention_days must be at least 30 (ListUsageTotals' window)"
    ]
