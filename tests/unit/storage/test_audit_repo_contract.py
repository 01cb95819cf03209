"""The `AuditRepo` contract through the protocol (`Store` -> `UnitOfWork` -> `audit`), against
every backend built here; the expected rows are computed by filtering a Python list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockwatch.model.identity import Tenant
from dockwatch.storage.audit_repo import AuditEntry, AuditQuery
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.storage.unit_of_work import Store

TENANT = Tenant("123456789012", "eu-west-1")
OTHER = Tenant("210987654321", "eu-west-1")
T0 = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(db)
    yield SqlStore(db)
    db.close()


def _entry(i: int, principal: str = "alice", resource: str = "/api/v1/configuration") -> AuditEntry:
    return AuditEntry(
        at=T0 + timedelta(minutes=i),
        principal=principal,
        source="10.0.0.1",
        action="PUT /api/v1/configuration",
        resource=resource,
        status=200 if i % 3 else 400,
        error_code=None if i % 3 else "ValidationException",
    )


def test_append_then_list_newest_first_with_every_field(store: Store) -> None:
    entries = [_entry(i) for i in range(5)]
    with store.write() as uow:
        ids = [uow.audit.append(TENANT, e) for e in entries]
    assert ids == sorted(ids) and len(set(ids)) == 5
    with store.read() as uow:
        rows = uow.audit.list(TENANT, AuditQuery())
    assert [r.id for r in rows] == ids[::-1]
    assert [r.entry for r in rows] == entries[::-1]


def test_filters_match_a_brute_force_filter(store: Store) -> None:
    entries = [
        _entry(i, principal=("alice", "bob")[i % 2], resource=f"/api/v1/webhooks/{i % 4}")
        for i in range(40)
    ]
    with store.write() as uow:
        for e in entries:
            uow.audit.append(TENANT, e)
        uow.audit.append(OTHER, _entry(0))
    queries = [
        AuditQuery(principal="bob"),
        AuditQuery(resource_prefix="/api/v1/webhooks/1"),
        AuditQuery(since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=20)),
        AuditQuery(principal="alice", since=T0 + timedelta(minutes=30)),
        AuditQuery(action="PUT /api/v1/configuration", limit=7),
        AuditQuery(action="DELETE /api/v1/configuration"),
    ]
    for q in queries:
        expected = [
            e
            for e in reversed(entries)
            if (q.principal is None or e.principal == q.principal)
            and (q.resource_prefix is None or e.resource.startswith(q.resource_prefix))
            and (q.since is None or e.at >= q.since)
            and (q.until is None or e.at < q.until)
            and (q.action is None or e.action == q.action)
        ][: q.limit]
        with store.read() as uow:
            assert [r.entry for r in uow.audit.list(TENANT, q)] == expected, q


def test_a_resource_prefix_is_literal_not_a_pattern(store: Store) -> None:
    with store.write() as uow:
        uow.audit.append(TENANT, _entry(1, resource="/v2/a_b/manifests/x"))
        uow.audit.append(TENANT, _entry(2, resource="/v2/axb/manifests/x"))
        uow.audit.append(TENANT, _entry(3, resource="/v2/100%/manifests/x"))
    with store.read() as uow:
        under = [
            r.entry.resource for r in uow.audit.list(TENANT, AuditQuery(resource_prefix="/v2/a_"))
        ]
        pct = [
            r.entry.resource for r in uow.audit.list(TENANT, AuditQuery(resource_prefix="/v2/1%"))
        ]
    assert under == ["/v2/a_b/manifests/x"]
    assert pct == []


def test_keyset_pages_cover_every_entry_once(store: Store) -> None:
    with store.write() as uow:
        ids = [uow.audit.append(TENANT, _entry(i)) for i in range(23)]
    seen: list[int] = []
    before: int | None = None
    while True:
        with store.read() as uow:
            rows = uow.audit.list(TENANT, AuditQuery(before_id=before, limit=5))
        if not rows:
            break
        seen += [r.id for r in rows]
        before = rows[-1].id
    assert seen == ids[::-1]


def test_purge_removes_only_older_entries_of_the_tenant(store: Store) -> None:
    with store.write() as uow:
        for i in range(10):
            uow.audit.append(TENANT, _entry(i))
            uow.audit.append(OTHER, _entry(i))
    with store.write() as uow:
        assert uow.audit.purge_before(TENANT, T0 + timedelta(minutes=4)) == 4
    with store.read() as uow:
        left = uow.audit.list(TENANT, AuditQuery())
        other = uow.audit.list(OTHER, AuditQuery())
    assert sorted(r.entry.at for r in left) == [T0 + timedelta(minutes=i) for i in range(4, 10)]
    assert len(other) == 10
