"""Fixtures of the repository contract suites: a store per backend (SQLite here; PostgreSQL
joins the `BACKENDS` parameters when it lands), and images pushed through the registry service
so that the suites do not depend on how a backend keeps registry rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwatch.app import Services, build
from dockwatch.config import Settings
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.storage.unit_of_work import Store
from tests.builders.layers import Image, make_image, make_layer

BACKENDS = ["sqlite"]
"""The database backends every contract runs against."""


def _database_url(backend: str, folder: Path) -> str:
    assert backend == "sqlite", backend
    return f"sqlite:///{folder / 'contract.db'}"


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store of the backend under test (storage only, no services)."""
    db = Database(_database_url(request.param, tmp_path))
    migrate(db)
    built = SqlStore(db)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture(params=BACKENDS)
def services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Services]:
    """Services over a fresh data folder of the backend under test."""
    assert request.param == "sqlite"
    built = build(Settings(data_dir=tmp_path / "data"))
    try:
        yield built
    finally:
        built.close()


def image(seed: str) -> Image:
    """A distinct small image."""
    return make_image([make_layer({"seed": seed})])


def repository_id(services: Services, name: str) -> int:
    """The id the registry gave repository `name`."""
    return services.registry.ctx.repository(name).id
