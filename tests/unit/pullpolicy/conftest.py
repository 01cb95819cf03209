"""The in-process app over a real data folder with the images of `world.py`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from dockwatch.api.app import create_app
from dockwatch.app import Services
from tests.unit.api.conftest import client_for, make_services

from .world import World, build_world


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = make_services(tmp_path)
    yield built
    built.close()


@pytest.fixture
def world(services: Services, tmp_path: Path) -> World:
    return build_world(services, tmp_path)


@pytest.fixture
async def api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(services)) as client:
        yield client
