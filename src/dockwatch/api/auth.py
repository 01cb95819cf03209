"""Credentials for /v2/ and /api/: HTTP Basic (users and ECR login tokens) and bearer tokens.

A user belongs to an account: a plain user name is a user of the default account (as before
accounts existed); `<12-digit account id>/<name>` names a user of that account, which acts in
that account and the server's region. `AWS` with an ECR authorization token as the password
acts in the token's (account, region) (`accounts/registry_tokens.py`).

Passwords are stored as scrypt hashes (`passwords.py`). Verifying scrypt on every request would
cost more than the request, so a successful check is remembered for a short time as an HMAC of
the credentials under a per-process random key: the plain password is never kept, the cache
dies with the process, and an entry counts only while the user's stored hash is the one it was
verified against, so a password change or a deleted user ends it at once (in any process).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import field
from datetime import datetime

from anyio import to_thread

from dockwatch.audit.log import cli_entry
from dockwatch.model.identity import Tenant
from dockwatch.storage.unit_of_work import Store
from dockwatch.value_class import frozen

from .deferred import Deferred
from .passwords import hash_password, verify_or_dummy, verify_password

logger = logging.getLogger(__name__)

MAX_CACHED = 10_000
"""Verified credentials remembered at most; the oldest go first."""
_ACCOUNT_USER = re.compile(r"^(\d{12})/(.+)$")


def user_tenant(username: str, default: Tenant) -> tuple[Tenant, str]:
    """The tenant a Basic user name acts in, and the user's name within its account."""
    m = _ACCOUNT_USER.match(username)
    if m is None:
        return default, username
    return Tenant(m.group(1), default.region), m.group(2)


def user_arn(tenant: Tenant, user: str) -> str:
    """The IAM ARN a repository policy names a user by."""
    return f"arn:aws:iam::{tenant.account_id}:user/{user}"


@frozen
class BasicCredentials:
    """A user name and password from an `Authorization: Basic` header."""

    username: str
    password: str


def parse_basic(authorization: str | None) -> BasicCredentials | None:
    """The credentials of a Basic Authorization header, or None."""
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return BasicCredentials(username, password) if sep else None


@frozen
class Lookup:
    """What one request's credentials need: the stored hash (None: no such user) and whether
    these exact credentials were verified against it recently."""

    stored: str | None
    cached: bool


@frozen
class BootstrapResult:
    """The credentials set up at start; `generated_password` is shown once, never stored."""

    username: str
    generated_password: str | None
    checked: tuple[BasicCredentials, str] | None = field(default=None, repr=False)
    """The configured credentials and the stored hash they now match (the server remembers
    them as verified, so the first request bringing them runs no scrypt of its own)."""


def bootstrap_user(
    store: Store, tenant: Tenant, username: str | None, password: str | None, at: datetime
) -> BootstrapResult:
    """Make sure a user exists: the configured one, else a generated one on first start."""
    with store.write() as uow:
        accounts = uow.accounts
        if username and password:
            stored = accounts.password_hash(tenant, username)
            if stored is None:
                stored = hash_password(password)
                accounts.add_user(tenant, username, stored, at)
                uow.audit.append(tenant, cli_entry("serve: add user", f"user/{username}", 200, at))
            elif not verify_password(password, stored):
                stored = hash_password(password)
                accounts.set_password_hash(tenant, username, stored)
                uow.audit.append(
                    tenant, cli_entry("serve: set password", f"user/{username}", 200, at)
                )
            return BootstrapResult(username, None, (BasicCredentials(username, password), stored))
        existing = accounts.any_username(tenant)
        if existing is not None:
            return BootstrapResult(existing, None)
        generated = secrets.token_urlsafe(18)
        accounts.add_user(tenant, "dockwatch", hash_password(generated), at)
        uow.audit.append(tenant, cli_entry("serve: add user", "user/dockwatch", 200, at))
        return BootstrapResult("dockwatch", generated)


class _Verification:
    """A check in progress, which requests bringing the same credentials wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok: bool | None = None
        """The answer; None while it runs, or when the check raised."""


class Authenticator:
    """Checks Basic credentials against the account's users, remembering recent successes.

    Requests that bring the same credentials at the same time share one check: a client that
    opens eight connections at once, each with a Basic header, ran eight scrypt checks (43 ms of
    CPU each) before the first success was remembered.

    `now` gives seconds (the injected clock, so tests can move past the cache time).
    """

    def __init__(
        self,
        store: Store,
        tenant: Tenant,
        *,
        cache_seconds: float,
        now: Callable[[], float],
        users: Deferred[BootstrapResult] | None = None,
    ) -> None:
        """`users`: the set-up of the configured user, which each look-up waits for (`serve`
        runs it after it starts to listen: `cli/serve.py`)."""
        self._store = store
        self._tenant = tenant
        self._users = users
        self._cache_seconds = cache_seconds
        self._now = now
        self._key = secrets.token_bytes(32)
        self._ok: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        self._running: dict[tuple[bytes, str | None], _Verification] = {}
        self._lock = threading.Lock()

    def _mark(self, creds: BasicCredentials) -> bytes:
        message = f"{creds.username}:{creds.password}".encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def tenant_of(self, creds: BasicCredentials) -> tuple[Tenant, str]:
        """The tenant the credentials' user acts in, and the user's name in its account."""
        return user_tenant(creds.username, self._tenant)

    def lookup(self, creds: BasicCredentials) -> Lookup:
        """The user's stored hash, and whether these credentials were verified against it
        within the cache time (one indexed read, no hashing)."""
        if self._users is not None:
            self._users.get()
        tenant, name = self.tenant_of(creds)
        with self._store.read() as uow:
            stored = uow.accounts.password_hash(tenant, name)
        if stored is None:
            return Lookup(None, False)
        with self._lock:
            return Lookup(stored, self._remembered(self._mark(creds), stored))

    async def lookup_from_loop(self, creds: BasicCredentials) -> Lookup:
        """`lookup` in a worker thread; while the users are being set up, requests wait for
        it without holding a thread of the pool the app's database calls run in."""
        if self._users is not None:
            await self._users.ready()
        return await to_thread.run_sync(self.lookup, creds)

    def _remembered(self, mark: bytes, stored: str) -> bool:
        """Whether `mark` was verified against `stored` within the cache time (under the lock;
        an entry for another hash, or expired, is dropped)."""
        entry = self._ok.get(mark)
        if entry is None:
            return False
        verified_against, expires = entry
        if verified_against != stored or expires <= self._now():
            del self._ok[mark]
            return False
        return True

    def verify(self, creds: BasicCredentials, stored: str | None) -> bool:
        """One scrypt verification (the same cost for an unknown user), unless the same
        credentials were verified against `stored` since `lookup` (while this request waited
        for its turn) or are being verified now (then its answer); remembers a success."""
        mark = self._mark(creds)
        with self._lock:
            if stored is not None and self._remembered(mark, stored):
                return True
            running = self._running.get((mark, stored))
            if running is None:
                mine = self._running[(mark, stored)] = _Verification()
        if running is not None:
            running.done.wait()
            if running.ok is not None:
                return running.ok
            return self.verify(creds, stored)  # that check raised: this request checks itself
        try:
            mine.ok = verify_or_dummy(creds.password, stored)
        finally:
            with self._lock:
                del self._running[(mark, stored)]
                if mine.ok and stored is not None:
                    self._remember(mark, stored)
            mine.done.set()
        return mine.ok

    def remember(self, creds: BasicCredentials, stored: str) -> None:
        """Take `creds` as verified against `stored` for the cache time: they were, elsewhere
        (`serve`'s user set-up checked the configured password against that hash)."""
        with self._lock:
            self._remember(self._mark(creds), stored)

    def _remember(self, mark: bytes, stored: str) -> None:
        """Under the lock."""
        if self._cache_seconds > 0:
            self._ok[mark] = (stored, self._now() + self._cache_seconds)
            while len(self._ok) > MAX_CACHED:
                self._ok.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ok)
