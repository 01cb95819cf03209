"""The accounts family's errors: each carries what it is about."""

from __future__ import annotations

from dockwatch.errors import Conflict, InvalidInput, NotFound


class InvalidAccountId(InvalidInput):
    """An account id that is not 12 digits."""

    def __init__(self, account_id: str) -> None:
        super().__init__(f"an account id is 12 digits, got {account_id!r}")
        self.account_id = account_id


class InvalidName(InvalidInput):
    """An account or user name outside what IAM accepts."""


class AccountExists(Conflict):
    """An account with this id exists already."""

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id} exists already")
        self.account_id = account_id


class AccountUnknown(NotFound):
    """No account has this id."""

    def __init__(self, account_id: str) -> None:
        super().__init__(f"no account {account_id}")
        self.account_id = account_id


class AccessKeyUnknown(NotFound):
    """The account has no access key with this id."""

    def __init__(self, account_id: str, access_key_id: str) -> None:
        super().__init__(f"account {account_id} has no access key {access_key_id}")
        self.account_id = account_id
        self.access_key_id = access_key_id
