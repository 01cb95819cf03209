"""Webhook request signatures: HMAC-SHA256 with the subscription's secret.

Each request carries

- `X-Dockwatch-Timestamp`: the send time in Unix seconds (a new value on every attempt);
- `X-Dockwatch-Signature: sha256=<hex>`: HMAC-SHA256, keyed with the subscription secret
  (UTF-8), of the bytes `<timestamp>.<raw body>`;
- `X-Dockwatch-Event-Id`: the event's id (the envelope's `id`), the same on every redelivery;
- `X-Dockwatch-Event-Type`: the outbox event type (`FindingCreated`, `ManifestPushed`, ...).

A receiver recomputes the HMAC over the timestamp, a dot and the body exactly as received,
compares in constant time, rejects timestamps too far from its clock (replays), and
de-duplicates on the event id: delivery is at least once. The timestamp is signed so that a
captured request cannot be replayed later with a fresh timestamp.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Dockwatch-Signature"
TIMESTAMP_HEADER = "X-Dockwatch-Timestamp"
EVENT_ID_HEADER = "X-Dockwatch-Event-Id"
EVENT_TYPE_HEADER = "X-Dockwatch-Event-Type"
PREFIX = "sha256="


def signed_bytes(timestamp: int, body: bytes) -> bytes:
    """What the signature covers: `<timestamp>.<body>`."""
    return f"{timestamp}.".encode("ascii") + body


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Dockwatch-Signature` value for one request."""
    mac = hmac.new(secret.encode("utf-8"), signed_bytes(timestamp, body), hashlib.sha256)
    return PREFIX + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    signature: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance_seconds: float = 300.0,
) -> bool:
    """Whether a received request is signed with `secret` (and, given `now`, is recent)."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if now is not None and abs(now - ts) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature.strip())


def headers(
    secret: str, timestamp: int, body: bytes, event_id: str, event_type: str
) -> dict[str, str]:
    """Every dockwatch header of one webhook request."""
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        EVENT_ID_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
    }
