"""`serve`'s embedded services, started once it listens: a stop that comes first wins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwatch.app import Services, build
from dockwatch.cli.serve import EmbeddedServices
from dockwatch.config import from_env
from dockwatch.feeds import default_feeds


@pytest.fixture
def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    monkeypatch.setenv("DOCKWATCH_SYNC_INTERVAL", "0")  # no sync to the real upstreams
    built = build(from_env(data_dir=tmp_path / "data"))
    try:
        yield built
    finally:
        built.close()


def test_start_runs_the_worker_and_makes_the_feed_scheduler(services: Services) -> None:
    embedded = EmbeddedServices(services, None)
    embedded.start()
    assert services.worker.running
    assert embedded.scheduler is not None
    # none named in DOCKWATCH_FEEDS: every built-in feed
    assert [f.name for f in embedded.scheduler.feeds] == [f.name for f in default_feeds()]
    embedded.stop()


def test_a_start_that_comes_after_the_stop_starts_nothing(services: Services) -> None:
    embedded = EmbeddedServices(services, None)
    embedded.stop()  # SIGTERM before the thread that starts them ran
    embedded.start()
    assert not services.worker.running
    assert embedded.scheduler is None
