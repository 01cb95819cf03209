"""`AccountRepo` contract: users and their password hashes, per account, through a unit of work
of each backend's store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dockwatch.model.identity import Tenant
from dockwatch.storage.unit_of_work import Store

T = Tenant("000000000000", "us-east-1")
OTHER = Tenant("111111111111", "us-east-1")
AT = datetime(2026, 1, 2, tzinfo=UTC)


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


def test_one_name_in_two_accounts_is_two_users(store: Store) -> None:
    with store.write() as uow:
        uow.accounts.add_user(T, "ci", "h-t", AT)
        uow.accounts.add_user(OTHER, "ci", "h-other", AT)
    with store.write() as uow:
        assert uow.accounts.delete_user(OTHER, "ci")
    with store.read() as uow:
        assert uow.accounts.password_hash(T, "ci") == "h-t"
        assert uow.accounts.password_hash(OTHER, "ci") is None
        assert uow.accounts.any_username(T) == "ci"
        assert uow.accounts.any_username(OTHER) is None


def test_accounts_are_created_once_and_listed_by_id(store: Store) -> None:
    from dockwatch.storage.account_repo import AccountRow

    with store.write() as uow:
        assert uow.accounts.add_account(AccountRow("222222222222", "b", AT))
        assert uow.accounts.add_account(AccountRow("111111111111", "a", AT))
    with store.write() as uow:
        assert not uow.accounts.add_account(AccountRow("111111111111", "again", AT))
    with store.read() as uow:
        assert uow.accounts.list_accounts() == [
            AccountRow("111111111111", "a", AT),
            AccountRow("222222222222", "b", AT),
        ]
        assert uow.accounts.get_account("333333333333") is None


def test_access_keys_round_trip_per_account(store: Store) -> None:
    from dockwatch.storage.account_repo import AccessKeyRow

    key = AccessKeyRow("AKIAAAAAAAAAAAAAAAA1", "111111111111", "ci", "sealed", "Active", AT)
    other = AccessKeyRow("AKIAAAAAAAAAAAAAAAA2", "222222222222", "root", "s2", "Inactive", AT)
    with store.write() as uow:
        uow.accounts.add_access_key(key)
        uow.accounts.add_access_key(other)
    with store.read() as uow:
        assert uow.accounts.get_access_key(key.access_key_id) == key
        assert uow.accounts.list_access_keys("111111111111") == [key]
    with store.write() as uow:
        assert not uow.accounts.delete_access_key("222222222222", key.access_key_id)
        assert uow.accounts.delete_access_key("111111111111", key.access_key_id)
    with store.read() as uow:
        assert uow.accounts.get_access_key(key.access_key_id) is None
        assert uow.accounts.get_access_key(other.access_key_id) == other
