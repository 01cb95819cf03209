"""The start-up user: created once, generated when none is configured, following the
configured password, over a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dockwatch.api.auth import bootstrap_user
from dockwatch.api.passwords import verify_password
from dockwatch.model.identity import Tenant
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.storage.unit_of_work import Store

T = Tenant("000000000000", "us-east-1")
AT = datetime(2026, 1, 2, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    migrate(db)
    built = SqlStore(db)
    yield built
    built.close()


def test_bootstrap_creates_updates_or_generates(store: Store) -> None:
    first = bootstrap_user(store, T, None, None, AT)
    assert first.username == "dockwatch" and first.generated_password
    with store.read() as uow:
        stored = uow.accounts.password_hash(T, "dockwatch")
    assert stored is not None and verify_password(first.generated_password, stored)
    # a second start finds the user and generates nothing
    assert bootstrap_user(store, T, None, None, AT).generated_password is None
    # a configured user is created, then its password follows the configuration
    assert bootstrap_user(store, T, "ci", "one", AT).username == "ci"
    bootstrap_user(store, T, "ci", "two", AT)
    with store.read() as uow:
        ci = uow.accounts.password_hash(T, "ci")
    assert ci is not None and verify_password("two", ci) and not verify_password("one", ci)
