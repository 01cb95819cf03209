"""Access key values and how new ones are made (IAM's formats).

An access key id is `AKIA` and 16 upper-case letters or digits, a secret 40 characters of
base64's alphabet, both from the operating system's random source.
"""

from __future__ import annotations

import re
import secrets
import string
from datetime import datetime
from enum import StrEnum

from dockwatch.value_class import frozen

KEY_ID_PREFIX = "AKIA"
_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
ACCOUNT_ID = re.compile(r"[0-9]{12}")
USER_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
"""IAM's user name pattern and length."""


class KeyStatus(StrEnum):
    """IAM's access key statuses."""

    ACTIVE = "Active"
    INACTIVE = "Inactive"


@frozen
class Account:
    """An account."""

    account_id: str
    """Twelve digits."""
    name: str
    created_at: datetime


@frozen
class AccessKey:
    """An access key without its secret (what listings show)."""

    access_key_id: str
    account_id: str
    user_name: str
    status: KeyStatus
    created_at: datetime


@frozen
class NewAccessKey:
    """A key just created, with its secret: shown once, never again."""

    key: AccessKey
    secret_access_key: str

    def as_iam(self) -> dict[str, dict[str, str]]:
        """IAM CreateAccessKey's answer shape."""
        return {
            "AccessKey": {
                "UserName": self.key.user_name,
                "AccessKeyId": self.key.access_key_id,
                "SecretAccessKey": self.secret_access_key,
                "Status": self.key.status.value,
                "CreateDate": self.key.created_at.isoformat(),
            }
        }


@frozen
class SigningCredential:
    """What SigV4 verification needs about an access key: its owner and its secret."""

    access_key_id: str
    account_id: str
    user_name: str
    secret_access_key: str
    active: bool


def new_access_key_id() -> str:
    """`AKIA` + 16 random upper-case alphanumerics."""
    return KEY_ID_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def new_secret() -> str:
    """40 random characters of base64's alphabet."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
