"""The account repository contract, run against SQLite through a real store; and the start-up
user it backs."""

from __future__ import annotations

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
OTHER = Tenant("111111111111", "us-east-1")
AT = datetime(2026, 1, 2, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    migrate(db)
    return SqlStore(db)


def test_users_round_trip_per_account(store: Store) -> None:
    with store.write() as uow:
        assert uow.accounts.any_username(T) is None
        uow.accounts.add_user(T, "bob", "h-bob", AT)
        uow.accounts.add_user(T, "alice", "h-alice", AT)
    with store.read() as uow:
        assert uow.accounts.password_hash(T, "bob") == "h-bob"
        assert uow.accounts.password_hash(T, "carol") is None
        assert uow.accounts.password_hash(OTHER, "bob") is None
        assert uow.accounts.any_username(T) == "alice"
        assert uow.accounts.any_username(OTHER) is None


def test_password_change_and_deletion(store: Store) -> None:
    with store.write() as uow:
        uow.accounts.add_user(T, "bob", "h1", AT)
    with store.write() as uow:
        assert uow.accounts.set_password_hash(T, "bob", "h2")
        assert not uow.accounts.set_password_hash(T, "nobody", "h2")
        assert not uow.accounts.set_password_hash(OTHER, "bob", "h3")
    with store.read() as uow:
        assert uow.accounts.password_hash(T, "bob") == "h2"
    with store.write() as uow:
        assert uow.accounts.delete_user(T, "bob")
        assert not uow.accounts.delete_user(T, "bob")
    with store.read() as uow:
        assert uow.accounts.password_hash(T, "bob") is None


def test_a_failed_unit_of_work_leaves_no_user(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as uow:
        uow.accounts.add_user(T, "bob", "h1", AT)
        raise RuntimeError("boom")
    with store.read() as uow:
        assert uow.accounts.password_hash(T, "bob") is None


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
