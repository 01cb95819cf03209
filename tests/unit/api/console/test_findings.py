"""The findings page: the filter bar, sorting, keyset pages, a finding's detail, and a
suppression rule created from the filter."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from dockwatch.api.app import create_app
from dockwatch.app import Services
from tests.builders.layers import make_image
from tests.builders.push import push_image
from tests.unit.api.conftest import PASSWORD, USER, client_for, make_services
from tests.unit.api.console.conftest import (
    HTML_PACKAGE,
    Browser,
    import_advisories,
    osv,
    python_layer,
    sign_in,
)

pytestmark = pytest.mark.anyio

ADVISORIES = [
    ("PYSEC-8-1", HTML_PACKAGE, "CRITICAL"),
    ("PYSEC-8-2", "plain", "HIGH"),
    ("PYSEC-8-3", "other", "MEDIUM"),
]


@pytest.fixture
def listed(tmp_path: Path) -> Iterator[Services]:
    """Three findings of three severities in `app:v1` (its own data: tests here suppress)."""
    services = make_services(tmp_path)
    try:
        import_advisories(
            services, tmp_path / "osv", [osv(v, p, "2.0", s) for v, p, s in ADVISORIES]
        )
        services.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
        layers = [python_layer(p, "1.0", str(i)) for i, (_, p, _) in enumerate(ADVISORIES)]
        push_image(services, "app", make_image(layers), tag="v1")
        services.worker.drain()
        yield services
    finally:
        services.close()


@pytest.fixture
async def signed_in(listed: Services) -> AsyncIterator[Browser]:
    async with client_for(create_app(listed), auth=None) as client:
        yield Browser(client, await sign_in(client))


def ids(text: str) -> list[str]:
    table = text.split('<table id="findings">')[1].split("</table>")[0]
    return re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', table)


def statuses(text: str) -> list[str]:
    return re.findall(r'<td class="status">([A-Z]+)</td>', text)


async def test_the_filter_bar_sorts_and_filters(signed_in: Browser) -> None:
    page = await signed_in.client.get("/console/findings")
    assert page.status_code == 200
    assert ids(page.text) == ["PYSEC-8-1", "PYSEC-8-2", "PYSEC-8-3"]  # severity, descending
    ascending = await signed_in.client.get("/console/findings?sortOrder=ASC")
    assert ids(ascending.text) == ["PYSEC-8-3", "PYSEC-8-2", "PYSEC-8-1"]
    high = await signed_in.client.get("/console/findings?severity=HIGH")
    assert ids(high.text) == ["PYSEC-8-2"]
    by_package = await signed_in.client.get("/console/findings?packageName=other")
    assert ids(by_package.text) == ["PYSEC-8-3"]
    not_high = await signed_in.client.get("/console/findings?severity=!HIGH&sortOrder=ASC")
    assert ids(not_high.text) == ["PYSEC-8-3", "PYSEC-8-1"]
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.text and HTML_PACKAGE not in page.text


async def test_pages_follow_the_listing_token(
    signed_in: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dockwatch.api.console.pages.findings.PAGE_SIZE", 2)
    first = await signed_in.client.get("/console/findings")
    assert ids(first.text) == ["PYSEC-8-1", "PYSEC-8-2"]
    link = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert link is not None
    second = await signed_in.client.get(link.group(1).replace("&amp;", "&"))
    assert ids(second.text) == ["PYSEC-8-3"]
    assert 'rel="next"' not in second.text


async def test_a_finding_shows_its_description_and_evidence(signed_in: Browser) -> None:
    page = await signed_in.client.get("/console/findings?severity=CRITICAL")
    link = re.search(r'<th scope="row"><a href="([^"]+)">PYSEC-8-1<', page.text)
    assert link is not None
    detail = await signed_in.client.get(link.group(1))
    assert detail.status_code == 200
    assert "<h1>PYSEC-8-1" in detail.text
    assert (
        '<pre id="evidence">' in detail.text
        and "[]" not in detail.text.split('<pre id="evidence">')[1].split("</pre>")[0]
    )
    assert HTML_PACKAGE not in detail.text
    missing = await signed_in.client.get("/console/findings/no-such-finding")
    assert missing.status_code == 404


async def test_a_rule_from_the_filter_suppresses_what_it_matches(
    listed: Services, signed_in: Browser
) -> None:
    form = {"csrf_token": signed_in.csrf, "severity": "HIGH", "name": "accept-high"}
    created = await signed_in.client.post("/console/findings/suppress", data=form)
    assert created.status_code == 201, created.text
    assert "accept-high" in created.text and 'data-count="changed">1<' in created.text
    page = await signed_in.client.get("/console/findings?sortOrder=DESC")
    assert dict(zip(ids(page.text), statuses(page.text), strict=True)) == {
        "PYSEC-8-1": "ACTIVE",
        "PYSEC-8-2": "SUPPRESSED",
        "PYSEC-8-3": "ACTIVE",
    }
    async with client_for(create_app(listed), auth=(USER, PASSWORD)) as api:
        rules = (await api.get("/api/v1/suppression-rules")).json()
    assert [r["name"] for r in rules["filters"]] == ["accept-high"]
    assert rules["filters"][0]["criteria"]["severity"] == [
        {"comparison": "EQUALS", "value": "HIGH"}
    ]


async def test_suppressing_needs_the_csrf_token_and_a_session(
    listed: Services, signed_in: Browser
) -> None:
    form = {"severity": "HIGH", "name": "forged"}
    refused = await signed_in.client.post("/console/findings/suppress", data=form)
    assert refused.status_code == 403
    async with client_for(create_app(listed), auth=None) as anonymous:
        assert (await anonymous.get("/console/findings")).status_code == 303
        answer = await anonymous.post("/console/findings/suppress", data=form)
        assert answer.status_code == 401
    page = await signed_in.client.get("/console/findings")
    assert statuses(page.text) == ["ACTIVE", "ACTIVE", "ACTIVE"]


async def test_a_rule_needs_a_filter_and_a_name(signed_in: Browser) -> None:
    empty = await signed_in.client.post(
        "/console/findings/suppress", data={"csrf_token": signed_in.csrf, "name": "all"}
    )
    assert empty.status_code == 400
    unnamed = await signed_in.client.post(
        "/console/findings/suppress", data={"csrf_token": signed_in.csrf, "severity": "HIGH"}
    )
    assert unnamed.status_code == 400
