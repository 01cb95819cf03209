"""`AuditLog.list` over the query strings of GET /api/v1/audit, the page tokens, and the
retention purge, on a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockwatch.audit.log import AuditLog, AuditPurger, cli_entry, to_wire
from dockwatch.clock import ControlledClock
from dockwatch.errors import InvalidInput
from dockwatch.model.identity import Tenant
from dockwatch.storage.audit_repo import AuditEntry
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore

TENANT = Tenant("123456789012", "us-east-1")
T0 = datetime(2031, 1, 1, tzinfo=UTC)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AuditLog]:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(db)
    yield AuditLog(SqlStore(db), TENANT, ControlledClock())
    db.close()


def _fill(log: AuditLog, n: int) -> list[AuditEntry]:
    entries = [
        AuditEntry(
            at=T0 + timedelta(hours=i),
            principal=("alice", "bob", "carol")[i % 3],
            source="192.0.2.7",
            action=("DELETE /api/v1/webhooks/{id}", "PUT /api/v1/configuration")[i % 2],
            resource=f"/api/v1/webhooks/{i}" if i % 2 == 0 else "/api/v1/configuration",
            status=(200, 202, 404)[i % 3],
        )
        for i in range(n)
    ]
    for e in entries:
        log.record(e)
    return entries


def _all_pages(log: AuditLog, params: dict[str, str]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    token: str | None = None
    while True:
        page = log.list({**params, **({"nextToken": token} if token else {})})
        out += [to_wire(r) for r in page.rows]
        token = page.next_token
        if token is None:
            return out


def test_pages_hold_every_matching_entry_once_newest_first(log: AuditLog) -> None:
    entries = _fill(log, 50)
    got = _all_pages(log, {"principal": "bob", "maxResults": "4"})
    expected = [e for e in reversed(entries) if e.principal == "bob"]
    assert [(g["eventTime"], g["resource"]) for g in got] == [
        (e.at.isoformat(), e.resource) for e in expected
    ]
    assert len({g["eventId"] for g in got}) == len(expected)


def test_time_window_and_resource_prefix(log: AuditLog) -> None:
    entries = _fill(log, 30)
    got = _all_pages(
        log,
        {
            "since": "2031-01-01T05:00:00Z",
            "until": "2031-01-01T15:00:00+00:00",
            "resource": "/api/v1/webhooks/",
        },
    )
    expected = [
        e
        for e in reversed(entries)
        if T0 + timedelta(hours=5) <= e.at < T0 + timedelta(hours=15)
        and e.resource.startswith("/api/v1/webhooks/")
    ]
    assert [g["resource"] for g in got] == [e.resource for e in expected]


def test_outcome_names_the_status_family(log: AuditLog) -> None:
    _fill(log, 3)
    got = {g["status"]: g["outcome"] for g in _all_pages(log, {})}
    assert got == {200: "SUCCEEDED", 202: "SUCCEEDED", 404: "DENIED"}


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"maxResults": "0"},
        {"maxResults": "1001"},
        {"maxResults": "ten"},
        {"since": "2031-01-02T00:00:00Z", "until": "2031-01-01T00:00:00Z"},
        {"colour": "blue"},
        {"nextToken": "not-a-token"},
    ],
)
def test_bad_parameters_are_invalid_input(log: AuditLog, params: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        log.list(params)


def test_a_token_replayed_with_other_filters_is_refused(log: AuditLog) -> None:
    _fill(log, 10)
    token = log.list({"principal": "alice", "maxResults": "1"}).next_token
    assert token is not None
    with pytest.raises(InvalidInput, match="another request"):
        log.list({"principal": "bob", "nextToken": token})


def test_purger_deletes_entries_past_the_retention_once_per_interval(log: AuditLog) -> None:
    now = T0 + timedelta(days=400)
    for age in (500, 366, 364, 1):
        log.record(cli_entry("gc", "blobs", 200, now - timedelta(days=age)))
    purger = AuditPurger(TENANT, retention=timedelta(days=365))
    assert purger.run_if_due(log.store, now) == 2
    log.record(cli_entry("gc", "blobs", 200, now - timedelta(days=900)))
    assert purger.run_if_due(log.store, now + timedelta(minutes=5)) == 0  # not due yet
    assert purger.run_if_due(log.store, now + timedelta(hours=1)) == 1
    left = sorted(now - r.entry.at for r in log.list({}).rows)
    assert left == [timedelta(days=1), timedelta(days=364)]


def test_cli_entries_name_the_os_user_and_host() -> None:
    import getpass
    import socket

    e = cli_entry("db import", "/tmp/feeds", 200, T0)
    assert (e.principal, e.source, e.action) == (
        getpass.getuser(),
        f"cli@{socket.gethostname()}",
        "cli db import",
    )
