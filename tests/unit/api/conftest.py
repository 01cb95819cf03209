"""An in-process app over a real data folder (SQLite, files), driven through httpx's ASGI
transport with a chosen client address."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockwatch.api.app import create_app
from dockwatch.api.auth import bootstrap_user
from dockwatch.app import Services, build
from dockwatch.config import Settings

USER, PASSWORD = "tester", "s3cret-pass"

ClientFactory = Callable[..., httpx.AsyncClient]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_services(tmp_path: Path, **settings: Any) -> Services:
    """Services for a fresh data folder in test mode, with the test user."""
    base = Settings(data_dir=tmp_path / "data", test_mode=True)
    services = build(replace(base, **settings))
    bootstrap_user(services.store, services.tenant, USER, PASSWORD, datetime.now(UTC))
    return services


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = make_services(tmp_path)
    yield built
    built.close()


def client_for(
    app: Any, address: str = "10.0.0.1", auth: Any = (USER, PASSWORD)
) -> httpx.AsyncClient:
    """A client of `app` that connects from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://dockwatch", auth=auth)


@pytest.fixture
async def api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(services)) as client:
        yield client
