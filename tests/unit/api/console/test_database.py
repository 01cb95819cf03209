"""The vulnerability database page: version, sources, freshness and last errors."""

from __future__ import annotations

import re

import pytest

from dockwatch.app import Services
from dockwatch.vulndb.service import VulnDb
from tests.unit.api.console.conftest import Browser

pytestmark = pytest.mark.anyio


async def test_the_database_page_shows_each_source_as_the_status_does(
    populated: Services, browser: Browser
) -> None:
    status = VulnDb(populated.store, populated.clock).status()
    page = await browser.client.get("/console/database")
    assert page.status_code == 200
    assert f'data-value="version">{status["version"]}<' in page.text
    assert f'data-value="advisories">{status["advisories"]}<' in page.text
    names = re.findall(r'<tr><th scope="row">([^<]+)</th>', page.text)
    assert names == [s["name"] for s in status["sources"]] and names


async def test_no_session_no_database_page(anonymous: object) -> None:
    answer = await anonymous.get("/console/database")  # type: ignore[attr-defined]
    assert answer.status_code == 303
