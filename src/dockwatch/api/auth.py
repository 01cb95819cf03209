"""Credentials for /v2/ and /api/: HTTP Basic now; bearer tokens and SigV4 later, here too.

Passwords are stored as scrypt hashes. Verifying scrypt on every request would cost more than
the request, so a successful check is remembered as an HMAC of the credentials under a per-
process random key: the plain password is never kept, and the cache dies with the process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import tables
from dockwatch.storage.sql.engine import Database

logger = logging.getLogger(__name__)

_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """An scrypt hash with its parameters and salt, as one string."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of `password` against a `hash_password` string."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed.hex(), digest)


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    """The credentials set up at start; `generated_password` is shown once, never stored."""

    username: str
    generated_password: str | None


def bootstrap_user(
    db: Database, tenant: Tenant, username: str | None, password: str | None, at: datetime
) -> BootstrapResult:
    """Make sure a user exists: the configured one, else a generated one on first start."""
    t = tables.users
    with db.write() as conn:
        if username and password:
            row = conn.execute(
                select(t.c.password_hash).where(
                    t.c.account_id == tenant.account_id, t.c.username == username
                )
            ).first()
            if row is None:
                conn.execute(
                    t.insert().values(
                        account_id=tenant.account_id,
                        region=tenant.region,
                        username=username,
                        password_hash=hash_password(password),
                        created_at=at,
                    )
                )
            elif not verify_password(password, row.password_hash):
                conn.execute(
                    t.update()
                    .where(t.c.account_id == tenant.account_id, t.c.username == username)
                    .values(password_hash=hash_password(password))
                )
            return BootstrapResult(username, None)
        existing = conn.execute(
            select(t.c.username).where(t.c.account_id == tenant.account_id).limit(1)
        ).first()
        if existing is not None:
            return BootstrapResult(existing.username, None)
        generated = secrets.token_urlsafe(18)
        conn.execute(
            t.insert().values(
                account_id=tenant.account_id,
                region=tenant.region,
                username="dockwatch",
                password_hash=hash_password(generated),
                created_at=at,
            )
        )
        return BootstrapResult("dockwatch", generated)


class Authenticator:
    """Checks `Authorization` headers against the users table."""

    def __init__(self, db: Database, tenant: Tenant) -> None:
        self._db = db
        self._tenant = tenant
        self._key = secrets.token_bytes(32)
        self._ok: set[bytes] = set()
        self._lock = threading.Lock()

    def cached(self, authorization: str | None) -> str | None:
        """The user name when these exact credentials were verified before (no hashing cost)."""
        parsed = _parse_basic(authorization)
        if parsed is None:
            return None
        mark = hmac.new(self._key, f"{parsed[0]}:{parsed[1]}".encode(), hashlib.sha256).digest()
        with self._lock:
            return parsed[0] if mark in self._ok else None

    def check(self, authorization: str | None) -> str | None:
        """The user name when the header carries valid credentials, else None."""
        parsed = _parse_basic(authorization)
        if parsed is None:
            return None
        username, password = parsed
        mark = hmac.new(self._key, f"{username}:{password}".encode(), hashlib.sha256).digest()
        with self._lock:
            if mark in self._ok:
                return username
        t = tables.users
        with self._db.read() as conn:
            row = conn.execute(
                select(t.c.password_hash).where(
                    t.c.account_id == self._tenant.account_id, t.c.username == username
                )
            ).first()
        if row is None or not verify_password(password, row.password_hash):
            return None
        with self._lock:
            if len(self._ok) > 10_000:
                self._ok.clear()
            self._ok.add(mark)
        return username


def _parse_basic(authorization: str | None) -> tuple[str, str] | None:
    """(user, password) from a Basic Authorization header, or None."""
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None
