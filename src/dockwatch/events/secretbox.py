"""Webhook secrets sealed at rest with AES-GCM.

Signing needs the secret itself (HMAC), so it cannot be hashed; it is encrypted instead, with a
256-bit key that lives outside the database: the `webhook_secret_key` setting (base64), or a
key file `webhook-secret.key` created in the data folder with mode 0600 on first start. A copy
of the database alone (a backup, a dump) then reveals no secret.

A sealed value reads `aesgcm:v1:<base64 nonce|ciphertext|tag>`; the subscription id is the
associated data, so a sealed secret copied onto another subscription does not open.

The cipher's library is imported by the first seal or open, not with this module: a server
makes its box before its first answer and uses it later (6-8 ms of imports).
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import TYPE_CHECKING

from dockwatch.errors import DockwatchError, InvalidInput

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "aesgcm:v1:"
KEY_FILE = "webhook-secret.key"
_NONCE = 12


class SecretUnreadable(DockwatchError):
    """A stored secret that this key does not open (another key, or damaged)."""


class SecretBox:
    """Seals and opens webhook secrets with one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise InvalidInput("the webhook secret key must be 32 bytes (256 bits)")
        self._key = key
        self._cipher: AESGCM | None = None

    def _aead(self) -> AESGCM:
        cipher = self._cipher
        if cipher is None:  # two threads may both make one: either serves
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            cipher = self._cipher = AESGCM(self._key)
        return cipher

    def seal(self, secret: str, webhook_id: str) -> str:
        """The stored form of `secret`, bound to its subscription."""
        nonce = os.urandom(_NONCE)
        sealed = self._aead().encrypt(nonce, secret.encode("utf-8"), webhook_id.encode("utf-8"))
        return PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, stored: str, webhook_id: str) -> str:
        """The secret of a stored value."""
        if not is_sealed(stored):
            raise SecretUnreadable(f"the secret of webhook {webhook_id} is not sealed")
        aead = self._aead()
        try:
            raw = base64.b64decode(stored.removeprefix(PREFIX), validate=True)
            plain = aead.decrypt(raw[:_NONCE], raw[_NONCE:], webhook_id.encode("utf-8"))
        except Exception as exc:
            from cryptography.exceptions import InvalidTag  # loaded with the cipher

            if not isinstance(exc, (InvalidTag, binascii.Error, ValueError)):
                raise
            raise SecretUnreadable(
                f"the secret of webhook {webhook_id} does not open with this key"
            ) from exc
        return plain.decode("utf-8")


def is_sealed(stored: str) -> bool:
    """Whether a stored secret is sealed (rows from before sealing hold plaintext)."""
    return stored.startswith(PREFIX)


def load_key(setting: str | None, data_dir: Path) -> bytes:
    """The key from the setting (base64 of 32 bytes), else from the data folder's key file,
    created with mode 0600 the first time."""
    if setting:
        try:
            key = base64.b64decode(setting.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput("webhook_secret_key must be base64 of 32 random bytes") from exc
        if len(key) != 32:
            raise InvalidInput("webhook_secret_key must be base64 of 32 random bytes")
        return key
    path = data_dir / KEY_FILE
    if not path.exists():
        # write a complete file, then link it into place: a concurrent start reads either
        # nothing (and links its own, which fails) or a whole key, never half of one
        tmp = data_dir / f".{KEY_FILE}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(base64.b64encode(os.urandom(32)) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise InvalidInput(f"{path} does not hold base64 of 32 bytes")
    return key
