"""Creating, listing and deleting accounts and access keys; resolving a key for SigV4.

Secrets are sealed by the injected `Sealer` with the access key id as associated data, so a
sealed secret copied onto another key does not open.
"""

from __future__ import annotations

import logging
from typing import Protocol

from dockwatch.accounts.errors import (
    AccessKeyUnknown,
    AccountExists,
    AccountUnknown,
    InvalidAccountId,
    InvalidName,
)
from dockwatch.accounts.keys import (
    ACCOUNT_ID,
    USER_NAME,
    AccessKey,
    Account,
    KeyStatus,
    NewAccessKey,
    SigningCredential,
    new_access_key_id,
    new_secret,
)
from dockwatch.clock import Clock
from dockwatch.storage.account_repo import AccessKeyRow, AccountRow
from dockwatch.storage.unit_of_work import Store

logger = logging.getLogger(__name__)

DEFAULT_USER = "root"
"""The user name of a key created without `--user`."""


class Sealer(Protocol):
    """Encrypts a secret for storage and opens it again (`events.secretbox.SecretBox`)."""

    def seal(self, secret: str, binding: str, /) -> str:
        """The stored form of `secret`, bound to `binding`."""
        ...

    def open(self, stored: str, binding: str, /) -> str:
        """The secret of a stored form bound to `binding`."""
        ...


def _binding(access_key_id: str) -> str:
    return f"access-key:{access_key_id}"


def check_account_id(account_id: str) -> str:
    """The id when it is 12 digits, else InvalidAccountId."""
    if not ACCOUNT_ID.fullmatch(account_id):
        raise InvalidAccountId(account_id)
    return account_id


class AccountService:
    """Accounts and access keys over a `Store`."""

    def __init__(self, store: Store, clock: Clock, sealer: Sealer) -> None:
        self._store = store
        self._clock = clock
        self._sealer = sealer

    def create_account(self, account_id: str, name: str) -> Account:
        """A new account; AccountExists when the id is taken."""
        check_account_id(account_id)
        name = name.strip()
        if not 1 <= len(name) <= 128:
            raise InvalidName("an account name is 1 to 128 characters")
        row = AccountRow(account_id, name, self._clock.now())
        with self._store.write() as uow:
            if not uow.accounts.add_account(row):
                raise AccountExists(account_id)
        logger.info("created account %s", account_id)
        return Account(row.account_id, row.name, row.created_at)

    def ensure_account(self, account_id: str, name: str) -> bool:
        """Create the account unless it exists; True when it was created."""
        check_account_id(account_id)
        with self._store.write() as uow:
            return uow.accounts.add_account(AccountRow(account_id, name, self._clock.now()))

    def list_accounts(self) -> list[Account]:
        """Every account, by id."""
        with self._store.read() as uow:
            rows = uow.accounts.list_accounts()
        return [Account(r.account_id, r.name, r.created_at) for r in rows]

    def create_access_key(self, account_id: str, user_name: str | None = None) -> NewAccessKey:
        """A new Active key for a user of an existing account, with its secret (shown once)."""
        check_account_id(account_id)
        user = DEFAULT_USER if user_name is None else user_name
        if not USER_NAME.fullmatch(user):
            raise InvalidName(f"a user name is 1 to 64 of letters, digits and +=,.@_-: {user!r}")
        key_id, secret = new_access_key_id(), new_secret()
        row = AccessKeyRow(
            key_id,
            account_id,
            user,
            self._sealer.seal(secret, _binding(key_id)),
            KeyStatus.ACTIVE.value,
            self._clock.now(),
        )
        with self._store.write() as uow:
            if uow.accounts.get_account(account_id) is None:
                raise AccountUnknown(account_id)
            uow.accounts.add_access_key(row)
        logger.info("created access key %s for %s in %s", key_id, user, account_id)
        return NewAccessKey(_public(row), secret)

    def list_access_keys(self, account_id: str) -> list[AccessKey]:
        """The keys of an account (never their secrets)."""
        check_account_id(account_id)
        with self._store.read() as uow:
            if uow.accounts.get_account(account_id) is None:
                raise AccountUnknown(account_id)
            return [_public(r) for r in uow.accounts.list_access_keys(account_id)]

    def delete_access_key(self, account_id: str, access_key_id: str) -> None:
        """Remove a key: requests signed with it are refused from now on."""
        check_account_id(account_id)
        with self._store.write() as uow:
            if not uow.accounts.delete_access_key(account_id, access_key_id):
                raise AccessKeyUnknown(account_id, access_key_id)
        logger.info("deleted access key %s of %s", access_key_id, account_id)

    def signing_credential(self, access_key_id: str) -> SigningCredential | None:
        """The owner and secret of a key, None when no key has this id."""
        with self._store.read() as uow:
            row = uow.accounts.get_access_key(access_key_id)
        if row is None:
            return None
        secret = self._sealer.open(row.secret_sealed, _binding(row.access_key_id))
        return SigningCredential(
            row.access_key_id,
            row.account_id,
            row.user_name,
            secret,
            row.status == KeyStatus.ACTIVE.value,
        )


def _public(row: AccessKeyRow) -> AccessKey:
    return AccessKey(
        row.access_key_id, row.account_id, row.user_name, KeyStatus(row.status), row.created_at
    )
