"""The webhooks page: the subscriptions, a delivery log, and the test button."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from dockwatch.api.app import create_app
from dockwatch.app import Services
from tests.unit.api.conftest import PASSWORD, USER, client_for, make_services
from tests.unit.api.console.conftest import Browser, sign_in

pytestmark = pytest.mark.anyio
HOOK_URL = "http://127.0.0.1:9/<b>hook</b>"
"""A subscription URL (nothing listens on port 9) with HTML in its path."""


@pytest.fixture
def hooked(tmp_path: Path) -> Iterator[Services]:
    services = make_services(tmp_path, webhook_allow="127.0.0.1")
    try:
        yield services
    finally:
        services.close()


@pytest.fixture
async def signed_in(hooked: Services) -> AsyncIterator[Browser]:
    async with client_for(create_app(hooked), auth=None) as client:
        yield Browser(client, await sign_in(client))


async def subscribe(services: Services) -> str:
    async with client_for(create_app(services), auth=(USER, PASSWORD)) as api:
        answer = await api.post("/api/v1/webhooks", json={"url": HOOK_URL})
        assert answer.status_code in (200, 201), answer.text
        webhook_id: str = answer.json()["webhookId"]
        return webhook_id


async def test_the_test_button_queues_the_test_event_into_the_log(
    hooked: Services, signed_in: Browser
) -> None:
    webhook_id = await subscribe(hooked)
    listing = await signed_in.client.get("/console/webhooks")
    assert listing.status_code == 200
    assert "http://127.0.0.1:9/&lt;b&gt;hook&lt;/b&gt;" in listing.text
    assert HOOK_URL not in listing.text
    link = re.search(r'<th scope="row"><a href="([^"]+)">', listing.text)
    assert link is not None and webhook_id in link.group(1)
    page = await signed_in.client.get(link.group(1))
    assert "No deliveries yet." in page.text
    forged = await signed_in.client.post(link.group(1) + "/test", data={"csrf_token": "x"})
    assert forged.status_code == 403
    sent = await signed_in.client.post(link.group(1) + "/test", data={"csrf_token": signed_in.csrf})
    assert sent.status_code == 202
    assert "queued" in sent.text
    hooked.webhooks.fan_out()  # the deliverer turns the queued event into an attempt
    page = await signed_in.client.get(link.group(1))
    async with client_for(create_app(hooked), auth=(USER, PASSWORD)) as api:
        log = (await api.get(f"/api/v1/webhooks/{webhook_id}/deliveries")).json()
    assert len(log["deliveries"]) == 1
    assert log["deliveries"][0]["eventId"] in sent.text
    rows = re.findall(
        r'<tr><th scope="row">([^<]+)</th><td>(\d+)</td><td>([A-Z_]+)</td>',
        page.text.split('id="deliveries"')[1],
    )
    delivery = log["deliveries"][0]
    assert rows == [(delivery["eventType"], str(delivery["attempt"]), delivery["status"])]


async def test_no_session_no_webhooks(hooked: Services) -> None:
    webhook_id = await subscribe(hooked)
    async with client_for(create_app(hooked), auth=None) as client:
        assert (await client.get("/console/webhooks")).status_code == 303
        answer = await client.post(f"/console/webhooks/{webhook_id}/test", data={})
        assert answer.status_code == 401
