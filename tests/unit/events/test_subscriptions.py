"""Subscription input is checked field by field; the delivery log pages by keyset."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dockwatch.api.v1.bodies import URL_PATTERN
from dockwatch.clock import ControlledClock
from dockwatch.errors import Conflict, InvalidInput, NotFound
from dockwatch.events import subscriptions
from dockwatch.events.egress import EgressPolicy
from dockwatch.events.secretbox import SecretBox
from dockwatch.model.identity import Tenant
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore

TENANT = Tenant("123456789012", "us-east-1")
BOX = SecretBox(os.urandom(32))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqlStore]:
    database = Database(f"sqlite:///{tmp_path / 'd.db'}")
    migrate(database)
    yield SqlStore(database)
    database.close()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "JSON object"),
        ({}, "url is required"),
        ({"url": "ftp://host/x"}, "http or https"),
        ({"url": "hooks.example/in"}, "http or https"),
        ({"url": "https:///path"}, "no host"),
        ({"url": "https://user:pw@hooks.example/"}, "credentials"),
        ({"url": "https://hooks.example/ in"}, "spaces"),
        ({"url": "https://hooks.example:99999/"}, "not valid"),
        ({"url": "http://[bC49c60.428bC:aC42F]"}, "not valid"),  # brackets around no IPv6
        ({"url": "http://[::1/in"}, "not valid"),
        ({"url": "https://hooks.example/#frag"}, "fragment"),
        ({"url": "https://hooks.example/#"}, "fragment"),
        ({"url": "https://h.example/", "secret": "short"}, "16 to 512"),
        ({"url": "https://h.example/", "secret": 12345}, "string"),
        ({"url": "https://h.example/", "eventTypes": "ScanCompleted"}, "list"),
        ({"url": "https://h.example/", "eventTypes": []}, "omit it"),
        ({"url": "https://h.example/", "eventTypes": ["ScanDone"]}, "ScanDone"),
        ({"url": "https://h.example/", "eventTypes": ["AdvisoriesChanged"]}, "known types"),
        ({"url": "https://h.example/", "insecureSkipVerify": "yes"}, "true or false"),
        ({"url": "https://h.example/", "description": "x" * 600}, "at most 512"),
        ({"url": "https://h.example/", "eventtypes": ["ScanCompleted"]}, "unknown field"),
    ],
)
def test_invalid_input_is_named(body: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        subscriptions.parse_spec(body)


def test_creation_generates_a_secret_shown_once(db: SqlStore) -> None:
    clock = ControlledClock()
    created = subscriptions.create(
        db,
        clock,
        TENANT,
        {"url": "http://127.0.0.1:9/in", "eventTypes": ["ScanCompleted"] * 2},
        box=BOX,
        egress=EgressPolicy.parse("127.0.0.0/8"),
    )
    assert len(created["secret"]) >= 32
    assert created["eventTypes"] == ["ScanCompleted"]  # duplicates dropped
    shown = subscriptions.get(db, TENANT, created["webhookId"])
    assert "secret" not in shown
    assert shown == {k: v for k, v in created.items() if k != "secret"}
    assert [w["webhookId"] for w in subscriptions.list_all(db, TENANT)] == [created["webhookId"]]
    # another tenant sees nothing
    with pytest.raises(NotFound):
        subscriptions.get(db, Tenant("210987654321", "us-east-1"), created["webhookId"])
    subscriptions.remove(db, TENANT, created["webhookId"])
    with pytest.raises(NotFound):
        subscriptions.remove(db, TENANT, created["webhookId"])


def test_delivery_log_pages_by_keyset(db: SqlStore) -> None:
    clock = ControlledClock()
    hook = subscriptions.create(
        db, clock, TENANT, {"url": "https://h.example/"}, box=BOX, egress=EgressPolicy()
    )["webhookId"]
    with db.write() as uow:
        for n in range(1, 8):
            uow.webhooks.insert_attempt(
                webhook_id=hook,
                event_id=n,
                attempt=1,
                next_attempt_at=clock.now() + timedelta(seconds=n),
                started_at=clock.now(),
                at=clock.now(),
            )
    seen: list[int] = []
    token: str | None = None
    while True:
        page = subscriptions.deliveries(
            db, TENANT, hook, next_token=token, max_results="3", status=None
        )
        seen += [d["outboxId"] for d in page["deliveries"]]
        assert len(page["deliveries"]) <= 3
        token = page.get("nextToken")
        if token is None:
            break
    assert seen == list(range(1, 8))
    for bad in ("garbage", "eyJhZnRlciI6ICJ4In0=", "e30="):  # not base64 JSON / after "x" / {}
        with pytest.raises(InvalidInput, match="nextToken"):
            subscriptions.deliveries(
                db, TENANT, hook, next_token=bad, max_results=None, status=None
            )
    with pytest.raises(InvalidInput, match="maxResults"):
        subscriptions.deliveries(db, TENANT, hook, next_token=None, max_results="0", status=None)
    with pytest.raises(InvalidInput, match="status"):
        subscriptions.deliveries(db, TENANT, hook, next_token=None, max_results=None, status="OK")
    with pytest.raises(NotFound):
        subscriptions.deliveries(db, TENANT, "nope", next_token=None, max_results=None, status=None)


def test_the_webhook_limit_is_a_conflict_until_one_is_deleted(db: SqlStore) -> None:
    clock = ControlledClock()
    loopback = EgressPolicy.parse("127.0.0.0/8")  # addresses, not names: no resolver waits

    def create(n: int) -> dict[str, Any]:
        body = {"url": f"http://127.0.0.1:{2000 + n}/in"}
        return subscriptions.create(db, clock, TENANT, body, box=BOX, egress=loopback)

    made = [create(n)["webhookId"] for n in range(subscriptions.MAX_WEBHOOKS)]
    with pytest.raises(Conflict, match=f"at most {subscriptions.MAX_WEBHOOKS} webhooks"):
        create(-1)
    # another tenant has a limit of its own
    other = Tenant("210987654321", "us-east-1")
    subscriptions.create(
        db, clock, other, {"url": "http://127.0.0.1:9/in"}, box=BOX, egress=loopback
    )
    subscriptions.remove(db, TENANT, made[0])
    assert create(-2)["url"] == "http://127.0.0.1:1998/in"
    assert len(subscriptions.list_all(db, TENANT)) == subscriptions.MAX_WEBHOOKS


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.from_regex(URL_PATTERN, fullmatch=True).filter(lambda u: "://[" not in u))
def test_every_url_the_document_allows_is_accepted(url: str) -> None:
    # bracketed hosts are left out: a pattern cannot say which of them are IPv6 addresses
    assume(len(url) <= subscriptions.MAX_URL)
    assert subscriptions.validate_url(url) == url
