"""The embedded worker (SQLite, one process) starts a pushed image's scan when the push
commits, not at its next poll: here its poll is an hour, so only the wake-up can run the scan."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwatch.app import Services, build
from dockwatch.clock import ControlledClock
from dockwatch.config import Settings
from tests.builders.layers import Image, apk_entry, make_image, make_layer
from tests.builders.push import push_image
from tests.unit.scan.test_scan_events import ON_PUSH, T0

HOUR = 3600.0


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build(Settings(data_dir=tmp_path / "d", test_mode=True))
    assert isinstance(built.clock, ControlledClock)
    built.clock.set(T0)
    built.scanner.put_scanning_configuration(ON_PUSH)
    yield built
    built.close()


def _image(version: str) -> Image:
    return make_image(
        [
            make_layer(
                {
                    "etc/os-release": "ID=alpine\nVERSION_ID=3.19.1\n",
                    "lib/apk/db/installed": apk_entry("busybox", version, origin="busybox"),
                }
            )
        ]
    )


def _scanned(services: Services) -> set[str]:
    """Repositories with a completed basic scan (from the outbox)."""
    with services.store.read() as uow:
        events = uow.outbox.read_after(0, ["BasicScanCompleted"])
    return {e.event.subject for e in events}


def _wait_scanned(services: Services, repository: str) -> None:
    """Wait for the scan, woken by the worker's own announcement of it (at most a minute)."""
    listener = services.store.work_waiter()
    assert listener is not None
    try:
        deadline = time.monotonic() + 60
        while repository not in _scanned(services) and time.monotonic() < deadline:
            listener.wait(1.0)
    finally:
        listener.close()
    assert repository in _scanned(services), f"{repository} was not scanned"


def test_a_push_wakes_the_idle_worker(services: Services) -> None:
    assert services.store.dialect == "sqlite"
    services.worker.start(interval=HOUR)
    try:
        assert services.worker.ready.wait(60)
        push_image(services, "first", _image("1.36.1-r15"), tag="v1")
        _wait_scanned(services, "first")
        time.sleep(0.5)  # the worker's round after that scan ends: it is idle, for an hour
        push_image(services, "second", _image("1.36.1-r16"), tag="v1")
        _wait_scanned(services, "second")
    finally:
        services.worker.stop()
    assert not services.worker.running  # `stop` woke the waiting worker: it did not wait an hour
