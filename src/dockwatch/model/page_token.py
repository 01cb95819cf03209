"""One codec for every `nextToken` dockwatch issues.

A token is the position a listing resumes after, bound to the request that issued it (its
filters and sort) and checksummed, so an edited token or one replayed against another query is a
clear InvalidInput rather than a wrong page. Tokens are not secret: a client only ever sends back
its own; the checksum guards against corruption and edits, not disclosure.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from dockwatch.errors import InvalidInput

MAX_TOKEN_CHARS = 4096
_KEY = b"dockwatch-page-token-v1"
_MAC_BYTES = 12


def request_digest(request: Any) -> str:
    """A short digest of a JSON-able request description, to bind a token to its query."""
    doc = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def encode(position: Any, *, bound_to: str = "") -> str:
    """An opaque token holding `position` (any JSON value), bound to `bound_to`."""
    body = json.dumps({"b": bound_to, "p": position}, separators=(",", ":")).encode()
    mac = hmac.new(_KEY, body, hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.urlsafe_b64encode(mac + body).decode().rstrip("=")


def decode(token: object, *, bound_to: str = "") -> Any:
    """The position `token` holds; InvalidInput when it is not one this server issued for a
    request with the same `bound_to`."""
    bad = InvalidInput("nextToken is not a token this listing issued (or it was altered)")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise bad from None
    mac, body = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
    if not hmac.compare_digest(mac, hmac.new(_KEY, body, hashlib.sha256).digest()[:_MAC_BYTES]):
        raise bad
    try:
        doc = json.loads(body)
    except ValueError:
        raise bad from None
    if not isinstance(doc, dict) or "p" not in doc:
        raise bad
    if doc.get("b") != bound_to:
        raise InvalidInput(
            "nextToken was issued for another request: repeat the filters and sort unchanged"
        )
    return doc["p"]
