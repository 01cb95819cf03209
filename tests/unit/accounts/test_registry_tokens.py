"""Registry tokens: ECR's 12-hour login token and the short-lived bearer token, verified by
their MAC under a key derived from the server key, refused once expired, tampered with, of the
other kind, or minted under another data folder's key."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta

from dockwatch.accounts.registry_tokens import Access, RegistryTokens
from dockwatch.clock import ControlledClock
from dockwatch.model.identity import Tenant

T0 = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
A = Tenant("111111111111", "eu-west-1")


def _tokens(key: bytes | None = None) -> tuple[RegistryTokens, ControlledClock]:
    clock = ControlledClock()
    clock.set(T0)
    return RegistryTokens(key or b"k" * 32, clock), clock


def test_authorization_token_is_base64_of_aws_and_a_login_token_valid_12_hours() -> None:
    tokens, clock = _tokens()
    minted = tokens.authorization_token(A, "alice")
    user, _, password = base64.b64decode(minted.token).decode().partition(":")
    assert user == "AWS"
    assert minted.expires_at == T0 + timedelta(hours=12)
    claims = tokens.verify(password, "login")
    assert claims is not None
    assert (claims.tenant, claims.user, claims.kind) == (A, "alice", "login")
    clock.set(T0 + timedelta(hours=11, minutes=59))
    assert tokens.verify(password, "login") is not None
    clock.set(T0 + timedelta(hours=12))
    assert tokens.verify(password, "login") is None


def test_tampered_foreign_and_wrong_kind_tokens_are_refused() -> None:
    tokens, _ = _tokens(os.urandom(32))
    other, _ = _tokens(os.urandom(32))  # another data folder's server key
    token = tokens.login_token(A, "alice").token
    claims_part, _, mac = token.partition(".")
    forged_claims = json.loads(base64.urlsafe_b64decode(claims_part + "=="))
    forged_claims["a"] = "999999999999"
    forged = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).decode().rstrip("=")
    assert tokens.verify(f"{forged}.{mac}", "login") is None
    assert other.verify(token, "login") is None
    assert tokens.verify(token, "bearer") is None
    for junk in ("", "abc", "a.b", "!!!.???", token + "x"):
        assert tokens.verify(junk, "login") is None


def test_bearer_token_carries_its_scope_and_lives_minutes() -> None:
    tokens, clock = _tokens()
    access = (Access("app", ("pull", "push")), Access("111111111111/lib", ("pull",)))
    minted = tokens.bearer_token(A, "alice", access)
    assert minted.expires_at == T0 + timedelta(minutes=5)
    claims = tokens.verify(minted.token, "bearer")
    assert claims is not None and claims.access == access and claims.tenant == A
    assert tokens.verify(minted.token, "login") is None
    clock.advance(timedelta(minutes=5))
    assert tokens.verify(minted.token, "bearer") is None
