"""schemathesis hooks for the contract run (loaded through SCHEMATHESIS_HOOKS).

Two rules of the API cannot be stated in a schema, so positive (schema-valid) cases that break
them are left out (negative cases keep them): a page token is opaque and signed by the server,
so no generated `nextToken` is one it issued; a rule's `expiresAt` must be after now; a range
(`startInclusive`/`endInclusive`, `lowerInclusive`/`upperInclusive`, `<key>From`/`<key>To`,
`<key>Min`/`<key>Max`, `since`/`until`) must not end before it starts.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis


def _has_token(case: Any) -> bool:
    query = case.query or {}
    body = case.body if isinstance(case.body, dict) else {}
    return "nextToken" in query or body.get("nextToken") not in (None, "")


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Keep a case unless it is positive and carries a generated page token."""
    meta = case.meta
    positive = meta is not None and meta.generation.mode.is_positive
    if meta is not None and not positive and _array_sent_as_one_value(meta):
        return False
    return not (
        positive
        and (
            _has_token(case)
            or _expires_in_the_past(case)
            or _reversed_range(case)
            or _not_an_ipv6_literal(case)
        )
    )


def _array_sent_as_one_value(meta: Any) -> bool:
    """A negative case that turns a repeatable query parameter (an array) into one string: on
    the wire `?k=v` is both, so the server rightly reads it as a list of one."""
    mutations = getattr(getattr(meta.phase, "data", None), "mutations", ()) or ()
    return any(
        str(getattr(m.parameter_location, "value", m.parameter_location)) == "query"
        and tuple(m.keywords) == ("type",)
        and m.original_value == "array"
        for m in mutations
    )


def _not_an_ipv6_literal(case: Any) -> bool:
    """A webhook URL whose bracketed host is not an IPv6 address (the schema's pattern can only
    say "hex digits, colons and dots in brackets")."""
    body = case.body if isinstance(case.body, dict) else {}
    url = body.get("url")
    if not isinstance(url, str) or "://[" not in url:
        return False
    literal = url.split("://[", 1)[1].split("]", 1)[0]
    try:
        ipaddress.IPv6Address(literal)
    except ValueError:
        return True
    return False


def _moment(value: Any) -> datetime | None:
    """A time as the API reads one (epoch seconds or ISO 8601), or None."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        text = str(value)
        try:
            return datetime.fromtimestamp(float(text), UTC)
        except ValueError:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _expires_in_the_past(case: Any) -> bool:
    """A generated `expiresAt` that is not in the future (the schema cannot say "after now"), or,
    for a pull allowance, past its longest term (nor "within 366 days of now")."""
    body = case.body if isinstance(case.body, dict) else {}
    moment = None if body.get("expiresAt") is None else _moment(body["expiresAt"])
    if moment is None:
        return False
    now = datetime.now(UTC)
    too_far = "pull-allowances" in str(case.path) and moment > now + timedelta(days=365)
    return moment <= now or too_far


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _reversed(low: Any, high: Any) -> bool:
    a, b = _number(low), _number(high)
    if a is not None and b is not None and not isinstance(low, str | bool):
        return a > b
    x, y = _moment(low), _moment(high)
    if x is not None and y is not None:
        return x > y
    return a is not None and b is not None and a > b


def _reversed_range(case: Any) -> bool:
    """Some range in the query or the body ends before it starts."""
    query = case.query or {}
    for key, value in query.items():
        for first, last in (("From", "To"), ("Min", "Max")):
            if key.endswith(first) and key[: -len(first)] + last in query:
                if _reversed(value, query[key[: -len(first)] + last]):
                    return True
    if query.get("since") and query.get("until") and _reversed(query["since"], query["until"]):
        return True
    stack: list[Any] = [case.body]
    while stack:
        doc = stack.pop()
        if isinstance(doc, dict):
            for low, high in (
                ("startInclusive", "endInclusive"),
                ("lowerInclusive", "upperInclusive"),
            ):
                if doc.get(low) is not None and doc.get(high) is not None:
                    if _reversed(doc[low], doc[high]):
                        return True
            stack.extend(doc.values())
        elif isinstance(doc, list):
            stack.extend(doc)
    return False
