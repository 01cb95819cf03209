"""Signatures: recomputed here with `hmac` directly, as a receiver would."""

from __future__ import annotations

import hashlib
import hmac

from dockwatch.events import signing

SECRET = "a-subscription-secret-0123456789"
BODY = b'{"version":"0","id":"x","detail":{"a":1}}'


def _expected(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    headers = signing.headers(SECRET, 1_700_000_000, BODY, "event-id", "ManifestPushed")
    assert headers["X-Dockwatch-Timestamp"] == "1700000000"
    assert headers["X-Dockwatch-Signature"] == _expected(SECRET, 1_700_000_000, BODY)
    assert headers["X-Dockwatch-Event-Id"] == "event-id"
    assert headers["X-Dockwatch-Event-Type"] == "ManifestPushed"
    assert headers["Content-Type"] == "application/json"


def test_known_answer_from_openssl() -> None:
    # printf '%s' '1700000000.<BODY>' | openssl dgst -sha256 -hmac '<SECRET>'
    assert signing.sign(SECRET, 1_700_000_000, BODY) == (
        "sha256=cb7a7b06f5877d671edc8dfdd9892b71f32505c9a2957e9ffce1893542f330b0"
    )


def test_verify_accepts_only_the_signed_request() -> None:
    sig = _expected(SECRET, 1000, BODY)
    assert signing.verify(SECRET, "1000", sig, BODY)
    assert signing.verify(SECRET, "1000", sig, BODY, now=1200)
    assert not signing.verify(SECRET, "1000", sig, BODY, now=2000)  # stale: replay window
    assert not signing.verify(SECRET, "1001", sig, BODY)  # the timestamp is signed
    assert not signing.verify(SECRET, "1000", sig, BODY + b" ")
    assert not signing.verify("another-secret-0123456789", "1000", sig, BODY)
    assert not signing.verify(SECRET, "soon", sig, BODY)
    assert not signing.verify(SECRET, "1000", "sha256=00", BODY)
