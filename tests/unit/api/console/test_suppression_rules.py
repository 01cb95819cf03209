"""The suppression rules page: the list, and deleting a rule after a confirmation."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from dockwatch.api.app import create_app
from dockwatch.app import Services
from dockwatch.findings.suppression import SuppressionRules
from tests.builders.layers import make_image
from tests.builders.push import push_image
from tests.unit.api.conftest import client_for, make_services
from tests.unit.api.console.conftest import (
    Browser,
    import_advisories,
    osv,
    python_layer,
    sign_in,
)

pytestmark = pytest.mark.anyio
HTML_VALUE = "<script>alert(1)</script>"
"""A criteria value with HTML in it (rule names cannot hold any)."""


@pytest.fixture
def ruled(tmp_path: Path) -> Iterator[Services]:
    """One HIGH finding suppressed by `accept-high`; a rule `odd` with HTML in its criteria."""
    services = make_services(tmp_path)
    try:
        import_advisories(services, tmp_path / "osv", [osv("PYSEC-6-1", "plain", "2.0", "HIGH")])
        services.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
        push_image(services, "app", make_image([python_layer("plain", "1.0", "1")]), tag="v1")
        services.worker.drain()
        rules = SuppressionRules(services.store, services.clock, services.tenant)
        for name, key, value in (("accept-high", "severity", "HIGH"), ("odd", "title", HTML_VALUE)):
            rules.create(
                {
                    "action": "SUPPRESS",
                    "name": name,
                    "filterCriteria": {key: [{"comparison": "EQUALS", "value": value}]},
                }
            )
        yield services
    finally:
        services.close()


@pytest.fixture
async def signed_in(ruled: Services) -> AsyncIterator[Browser]:
    async with client_for(create_app(ruled), auth=None) as client:
        yield Browser(client, await sign_in(client))


def finding_statuses(text: str) -> list[str]:
    return re.findall(r'<td class="status">([A-Z]+)</td>', text)


async def test_rules_are_listed_as_text(signed_in: Browser) -> None:
    page = await signed_in.client.get("/console/suppression-rules")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and HTML_VALUE not in page.text
    assert re.findall(r'<th scope="row">([^<]+)</th>', page.text) == ["accept-high", "odd"]
    assert "<code>severity</code> EQUALS HIGH" in page.text


async def test_deleting_asks_first_then_the_finding_is_active_again(signed_in: Browser) -> None:
    before = await signed_in.client.get("/console/findings")
    assert finding_statuses(before.text) == ["SUPPRESSED"]
    page = await signed_in.client.get("/console/suppression-rules")
    link = re.search(r'<a href="(/console/suppression-rules/[^"]+/delete)">Delete</a>', page.text)
    assert link is not None
    confirm = await signed_in.client.get(link.group(1))
    assert confirm.status_code == 200 and "become active again" in confirm.text
    unconfirmed = await signed_in.client.post(link.group(1), data={"csrf_token": signed_in.csrf})
    assert unconfirmed.status_code == 400
    forged = await signed_in.client.post(link.group(1), data={"confirm": "yes"})
    assert forged.status_code == 403
    kept = await signed_in.client.get("/console/suppression-rules")
    assert "accept-high" in kept.text
    done = await signed_in.client.post(
        link.group(1), data={"csrf_token": signed_in.csrf, "confirm": "yes"}
    )
    assert done.status_code == 303
    listing = await signed_in.client.get("/console/suppression-rules")
    assert re.findall(r'<th scope="row">([^<]+)</th>', listing.text) == ["odd"]
    after = await signed_in.client.get("/console/findings")
    assert finding_statuses(after.text) == ["ACTIVE"]


async def test_no_session_no_rules(ruled: Services) -> None:
    async with client_for(create_app(ruled), auth=None) as client:
        assert (await client.get("/console/suppression-rules")).status_code == 303
        answer = await client.post("/console/suppression-rules/x/delete", data={"confirm": "yes"})
        assert answer.status_code == 401
