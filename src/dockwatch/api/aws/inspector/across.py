"""Listings over several accounts (a delegated administrator and its members), one account
after another: a `nextToken` names the account a page stopped in and the token of that
account's own listing, so pages never repeat or skip an item that did not change meanwhile.

Used where the store answers one tenant at a time (coverage, whose covered set depends on each
account's own scanning configuration, and aggregations). ListFindings runs over the set in one
query instead (`queries.listing.list_findings_in`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from dockwatch.errors import InvalidInput
from dockwatch.model import page_token
from dockwatch.model.identity import Tenant

Fetch = Callable[[Tenant, str | None, int], tuple[list[Any], str | None]]
"""(tenant, that tenant's token, how many at most) -> (items, that tenant's next token)."""


def _start(tenants: Sequence[Tenant], token: str | None, bound_to: str) -> tuple[int, str | None]:
    if not token:
        return 0, None
    doc = page_token.decode(token, bound_to=bound_to)
    if not isinstance(doc, dict) or not isinstance(doc.get("a"), str):
        raise InvalidInput("nextToken is not a token this listing issued (or it was altered)")
    inner = doc.get("t")
    if inner is not None and not isinstance(inner, str):
        raise InvalidInput("nextToken is not a token this listing issued (or it was altered)")
    for i, tenant in enumerate(tenants):
        if tenant.account_id == doc["a"]:
            return i, inner
        if tenant.account_id > doc["a"]:  # the account left the set: resume after it
            return i, None
    return len(tenants), None


def page_across(
    tenants: Sequence[Tenant], token: str | None, limit: int, bound_to: str, fetch: Fetch
) -> tuple[list[Any], str | None]:
    """Up to `limit` items of `tenants` (sorted by account id) from `token` on, and the token
    of the following page (None: the last)."""
    index, inner = _start(tenants, token, bound_to)
    items: list[Any] = []
    while index < len(tenants):
        tenant = tenants[index]
        got, following = fetch(tenant, inner, limit - len(items))
        items += got
        if following is not None:
            return items, page_token.encode(
                {"a": tenant.account_id, "t": following}, bound_to=bound_to
            )
        index, inner = index + 1, None
        if len(items) >= limit and index < len(tenants):
            nxt = tenants[index].account_id
            return items, page_token.encode({"a": nxt, "t": None}, bound_to=bound_to)
    return items, None


def to_datetime(value: Any) -> datetime | None:
    """A stored ISO 8601 time as the timezone-aware datetime the protocol adapter serializes."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
