"""The console in process (httpx over ASGI) on a real data folder: a signed-in client, and a
registry with one image whose findings include a critical one on a package named with HTML."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dockwatch.api.app import create_app
from dockwatch.app import Services
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.builders.layers import Layer, make_image, make_layer
from tests.builders.push import push_image
from tests.unit.api.conftest import PASSWORD, USER, client_for, make_services

HTML_PACKAGE = "<b>bold</b>"
"""A package name with HTML in it: pages must show it as text."""
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def python_layer(name: str, version: str, salt: str) -> Layer:
    """A layer with one installed Python distribution."""
    path = f"usr/lib/python3/site-packages/pkg{salt}-{version}.dist-info/METADATA"
    return make_layer(
        {path: f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", "salt": salt}
    )


def osv(vid: str, package: str, fixed: str, severity: str) -> dict[str, object]:
    """An OSV record for a PyPI package, with the GHSA-style severity rating."""
    return {
        "id": vid,
        "modified": "2026-11-01T00:00:00Z",
        "summary": f"test advisory {vid}",
        "database_specific": {"severity": severity},
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }


def import_advisories(services: Services, folder: Path, records: list[dict[str, object]]) -> None:
    """Write OSV records to `folder` and import them."""
    folder.mkdir(parents=True, exist_ok=True)
    for record in records:
        (folder / f"{record['id']}.json").write_text(json.dumps(record))
    import_paths(VulnDb(services.store, services.clock), [folder])


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Enhanced scanning, one image in `web` with a CRITICAL finding on `<b>bold</b>` and a HIGH
    one on `plain`; the tests of a module share it and change nothing they do not restore."""
    tmp_path = tmp_path_factory.mktemp("console")
    services = make_services(tmp_path)
    try:
        import_advisories(
            services,
            tmp_path / "osv",
            [
                osv("PYSEC-9-1", HTML_PACKAGE, "2.0", "CRITICAL"),
                osv("PYSEC-9-2", "plain", "2.0", "HIGH"),
            ],
        )
        services.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
        image = make_image(
            [python_layer(HTML_PACKAGE, "1.0", "1"), python_layer("plain", "1.0", "2")]
        )
        push_image(services, "web", image, tag="v1")
        services.worker.drain()
        yield services
    finally:
        services.close()


@dataclass
class Browser:
    """A signed-in client and its session's CSRF token."""

    client: httpx.AsyncClient
    csrf: str


async def sign_in(client: httpx.AsyncClient, user: str = USER, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the CSRF token of the session's pages."""
    form = await client.get("/console/login")
    token = CSRF.search(form.text)
    assert token is not None
    answer = await client.post(
        "/console/login",
        data={"csrf_token": token.group(1), "username": user, "password": password},
    )
    assert answer.status_code == 303, answer.text
    page = await client.get("/console/scanning")
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


@pytest.fixture
async def anonymous(populated: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the console without a session (and without Basic credentials)."""
    async with client_for(create_app(populated), auth=None) as client:
        yield client


@pytest.fixture
async def browser(populated: Services) -> AsyncIterator[Browser]:
    """A signed-in client."""
    async with client_for(create_app(populated), auth=None) as client:
        yield Browser(client, await sign_in(client))
