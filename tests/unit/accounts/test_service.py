"""Accounts and access keys over a real data folder (SQLite) and the real secret box."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwatch.accounts.errors import (
    AccessKeyUnknown,
    AccountExists,
    AccountUnknown,
    InvalidAccountId,
    InvalidName,
)
from dockwatch.app import DEFAULT_ACCOUNT_NAME, Services, build
from dockwatch.config import Settings


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build(Settings(data_dir=tmp_path / "data", account_id="123456789012"))
    yield built
    built.close()


def test_the_configured_account_exists_after_start(services: Services) -> None:
    listed = [(a.account_id, a.name) for a in services.accounts.list_accounts()]
    assert listed == [("123456789012", DEFAULT_ACCOUNT_NAME)]


def test_account_ids_are_twelve_digits_and_unique(services: Services) -> None:
    svc = services.accounts
    svc.create_account("111111111111", "dev")
    with pytest.raises(AccountExists):
        svc.create_account("111111111111", "again")
    for bad in ("11111111111", "1111111111111", "11111111111a", "", "１１１１１１１１１１１１"):
        with pytest.raises(InvalidAccountId):
            svc.create_account(bad, "x")
    with pytest.raises(InvalidName):
        svc.create_account("222222222222", "  ")


def test_a_new_key_has_iams_formats_and_its_secret_is_stored_sealed(
    services: Services, tmp_path: Path
) -> None:
    new = services.accounts.create_access_key("123456789012", "ci")
    iam = new.as_iam()["AccessKey"]
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", iam["AccessKeyId"])
    assert len(iam["SecretAccessKey"]) == 40
    assert (iam["UserName"], iam["Status"]) == ("ci", "Active")
    resolved = services.accounts.signing_credential(iam["AccessKeyId"])
    assert resolved is not None
    assert (resolved.account_id, resolved.user_name, resolved.active) == (
        "123456789012",
        "ci",
        True,
    )
    assert resolved.secret_access_key == iam["SecretAccessKey"]
    with sqlite3.connect(tmp_path / "data" / "dockwatch.db") as db:
        dump = "\n".join(db.iterdump())
    assert iam["AccessKeyId"] in dump and iam["SecretAccessKey"] not in dump


def test_keys_are_listed_without_secrets_and_deleted(services: Services) -> None:
    svc = services.accounts
    a = svc.create_access_key("123456789012").key
    b = svc.create_access_key("123456789012", "alice").key
    assert [(k.user_name, k.access_key_id) for k in svc.list_access_keys("123456789012")] == [
        ("alice", b.access_key_id),
        ("root", a.access_key_id),
    ]
    svc.delete_access_key("123456789012", a.access_key_id)
    assert svc.signing_credential(a.access_key_id) is None
    with pytest.raises(AccessKeyUnknown):
        svc.delete_access_key("123456789012", a.access_key_id)


def test_keys_need_an_existing_account_and_a_valid_user(services: Services) -> None:
    with pytest.raises(AccountUnknown):
        services.accounts.create_access_key("999999999999")
    with pytest.raises(InvalidName):
        services.accounts.create_access_key("123456789012", "no spaces")
    assert services.accounts.signing_credential("AKIAUNKNOWN000000000") is None
