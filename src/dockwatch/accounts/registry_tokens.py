"""Registry tokens: ECR's authorization tokens for `/v2`, and the OCI bearer tokens.

A token is `<claims>.<mac>`: base64url JSON claims (kind, account, region, user, expiry and, for
a bearer token, the granted access) and an HMAC-SHA256 of them under a key derived from the
server key of the data folder (the one that seals webhook secrets). Any process sharing the data
folder verifies a token without a database read; nothing but the key is stored. A token ends
at its expiry (12 hours for a login token, as ECR's; minutes for a bearer token).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta

from dockwatch.clock import Clock
from dockwatch.model.identity import Tenant
from dockwatch.value_class import frozen

LOGIN_TTL = timedelta(hours=12)
"""How long a `GetAuthorizationToken` token is valid (ECR: 12 hours)."""
BEARER_TTL = timedelta(minutes=5)
"""How long a bearer token from `/v2/token` is valid."""
LOGIN_USER = "AWS"
"""The user name a login token is sent with: `Basic base64("AWS:" + token)`."""
_DERIVATION = b"dockwatch registry tokens v1"
_ACCOUNT = re.compile(r"^\d{12}$")


@frozen
class Access:
    """Actions granted on one repository (the OCI token scope `repository:<name>:<actions>`)."""

    repository: str
    actions: tuple[str, ...]


@frozen
class TokenClaims:
    """What a verified token says."""

    kind: str
    """`login` (the ECR authorization token) or `bearer` (from `/v2/token`)."""
    tenant: Tenant
    user: str
    expires_at: datetime
    access: tuple[Access, ...] = ()


@frozen
class MintedToken:
    """A new token and when it ends."""

    token: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class RegistryTokens:
    """Mints and verifies registry tokens with a key derived from the server key."""

    def __init__(self, server_key: bytes, clock: Clock) -> None:
        self._key = hmac.new(server_key, _DERIVATION, hashlib.sha256).digest()
        self._clock = clock

    def _sign(self, claims: bytes) -> bytes:
        return hmac.new(self._key, claims, hashlib.sha256).digest()

    def _mint(self, claims: dict[str, object], ttl: timedelta) -> MintedToken:
        expires = int((self._clock.now() + ttl).timestamp())
        claims["e"] = expires
        raw = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
        token = f"{_b64(raw)}.{_b64(self._sign(raw))}"
        return MintedToken(token, datetime.fromtimestamp(expires, UTC))

    def login_token(self, tenant: Tenant, user: str) -> MintedToken:
        """An ECR authorization token of `user` in `tenant`, valid 12 hours."""
        return self._mint(
            {"k": "login", "a": tenant.account_id, "r": tenant.region, "u": user}, LOGIN_TTL
        )

    def authorization_token(self, tenant: Tenant, user: str) -> MintedToken:
        """What `GetAuthorizationToken` answers: base64("AWS:" + login token)."""
        minted = self.login_token(tenant, user)
        encoded = base64.b64encode(f"{LOGIN_USER}:{minted.token}".encode()).decode()
        return MintedToken(encoded, minted.expires_at)

    def bearer_token(self, tenant: Tenant, user: str, access: tuple[Access, ...]) -> MintedToken:
        """A short-lived bearer token granting `access` (the `/v2/token` answer)."""
        granted: list[object] = [[a.repository, list(a.actions)] for a in access]
        claims: dict[str, object] = {
            "k": "bearer",
            "a": tenant.account_id,
            "r": tenant.region,
            "u": user,
            "s": granted,
        }
        return self._mint(claims, BEARER_TTL)

    def verify(self, token: str, kind: str) -> TokenClaims | None:
        """The claims of a genuine, unexpired token of `kind`, else None."""
        claims_part, dot, mac_part = token.strip().partition(".")
        if not dot:
            return None
        try:
            raw, mac = _unb64(claims_part), _unb64(mac_part)
            if not hmac.compare_digest(mac, self._sign(raw)):
                return None
            doc = json.loads(raw)
            if doc.get("k") != kind or not _ACCOUNT.match(str(doc.get("a"))):
                return None
            now = self._clock.now()
            expires = datetime.fromtimestamp(int(doc["e"]), UTC)
            access = tuple(
                Access(str(r), tuple(str(x) for x in acts)) for r, acts in doc.get("s") or ()
            )
        except (binascii.Error, ValueError, TypeError, KeyError):
            return None
        if expires <= now:
            return None
        return TokenClaims(
            kind, Tenant(str(doc["a"]), str(doc["r"])), str(doc["u"]), expires, access
        )
