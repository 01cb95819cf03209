"""scrypt password hashes, and the verification an unknown user pays too.

A wrong password for a known user costs one scrypt run; an unknown user must cost the same, or
the answer time tells which names exist. `verify_or_dummy` runs scrypt against a fixed hash
with the same parameters when there is no stored hash, and always answers False for it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1
_DKLEN = 32


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=_DKLEN)


def hash_password(password: str) -> str:
    """An scrypt hash with its parameters and salt, as one string."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _N, _R, _P)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of `password` against a `hash_password` string."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed.hex(), digest)


DUMMY_HASH = f"scrypt${_N}${_R}${_P}${secrets.token_hex(16)}${secrets.token_hex(_DKLEN)}"
"""A hash no password is known to give, with the parameters of every stored hash: checking a
password against it runs the same scrypt as against a stored hash. Its digest is random bytes
rather than the scrypt of a random password, which cost every process that imports this module
45 ms of CPU at start, for a value nobody can tell apart from it."""


def verify_or_dummy(password: str, stored: str | None) -> bool:
    """`verify_password`, paying the same scrypt run when there is no stored hash (None)."""
    if stored is None:
        verify_password(password, DUMMY_HASH)
        return False
    return verify_password(password, stored)
