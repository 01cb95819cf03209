"""Webhook subscriptions: validated input, and the operations the API offers on them.

A subscription names an http(s) URL, an optional filter of outbox event types (none: every
deliverable type, including types added later) and a secret for the signatures. The secret is
generated when the caller gives none and is shown only in the answer to the creation; it is
stored sealed (`secretbox.py`): signing needs it, so it is encrypted rather than hashed. A URL
whose host is an internal address, or resolves only to internal ones, is refused unless the
operator allows it (`egress.py`); delivery checks again at every connection.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

from dockwatch.clock import Clock
from dockwatch.errors import Conflict, InvalidInput, NotFound
from dockwatch.model import page_token
from dockwatch.model.events import WebhookTest
from dockwatch.model.identity import Tenant
from dockwatch.storage import webhook_repo as repo
from dockwatch.storage.unit_of_work import Store
from dockwatch.value_class import frozen

from .egress import EgressPolicy
from .eventbridge import DELIVERABLE_TYPES, event_id
from .secretbox import SecretBox

MAX_WEBHOOKS = 100
"""Subscriptions per tenant: each one multiplies the delivery work of every event."""
MAX_URL = 2048
MIN_SECRET, MAX_SECRET = 16, 512
MAX_DESCRIPTION = 512
MAX_DELIVERIES_PAGE = 100
FIELDS = ("url", "secret", "eventTypes", "description", "insecureSkipVerify")


class WebhookNotFound(NotFound):
    """No subscription with that id."""

    def __init__(self, webhook_id: str) -> None:
        super().__init__(f"no webhook with id {webhook_id!r}")
        self.webhook_id = webhook_id


@frozen
class WebhookSpec:
    """A validated subscription request."""

    url: str
    secret: str | None
    """None: generate one."""
    event_types: tuple[str, ...]
    """Empty: every deliverable type."""
    description: str
    insecure_skip_verify: bool


def validate_url(value: Any) -> str:
    """An absolute http:// or https:// URL with a host, no credentials and no fragment."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("url is required: an absolute http:// or https:// URL")
    if len(value) > MAX_URL:
        raise InvalidInput(f"url is longer than {MAX_URL} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput("url must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # a bracketed host that is no IPv6 address, an unclosed bracket
        raise InvalidInput(f"url is not valid: {exc}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        shown = parts.scheme or "none"
        raise InvalidInput(f"url must use http or https, not {shown!r}: {value!r}")
    if not parts.hostname:
        raise InvalidInput(f"url has no host: {value!r}")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("url must not carry credentials; receivers check the signature")
    if "#" in value:  # an empty fragment too: the document's pattern has no `#`
        raise InvalidInput("url must not have a #fragment")
    import httpx  # as the delivery's client parses it; not imported before the server answers

    try:
        _ = parts.port
        httpx.URL(value)
    except (ValueError, httpx.InvalidURL) as exc:
        raise InvalidInput(f"url is not valid: {exc}") from exc
    return value


def parse_spec(body: Any) -> WebhookSpec:
    """Check a creation request field by field, with a message naming what is wrong."""
    if not isinstance(body, dict):
        raise InvalidInput('the body must be a JSON object like {"url": "https://..."}')
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise InvalidInput(f"unknown field(s) {unknown}; allowed: {list(FIELDS)}")
    url = validate_url(body.get("url"))
    secret = body.get("secret")
    if secret is not None:
        if not isinstance(secret, str):
            raise InvalidInput("secret must be a string")
        if not MIN_SECRET <= len(secret) <= MAX_SECRET:
            raise InvalidInput(
                f"secret must be {MIN_SECRET} to {MAX_SECRET} characters "
                "(omit it to have one generated)"
            )
        if any(ord(c) < 32 or ord(c) == 127 for c in secret):
            raise InvalidInput("secret must not contain control characters")
    types = body.get("eventTypes")
    event_types: tuple[str, ...] = ()
    if types is not None:
        if not isinstance(types, list) or not all(isinstance(x, str) for x in types):
            raise InvalidInput("eventTypes must be a list of event type names")
        if not types:
            raise InvalidInput("eventTypes is empty: omit it to receive every event type")
        bad = [x for x in types if x not in DELIVERABLE_TYPES]
        if bad:
            raise InvalidInput(
                f"unknown event type(s) {bad}; known types: {list(DELIVERABLE_TYPES)}"
            )
        event_types = tuple(dict.fromkeys(types))
    description = body.get("description", "")
    if description is None:
        description = ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"description must be a string of at most {MAX_DESCRIPTION} characters")
    insecure = body.get("insecureSkipVerify", False)
    if not isinstance(insecure, bool):
        raise InvalidInput("insecureSkipVerify must be true or false")
    return WebhookSpec(url, secret, event_types, description, insecure)


def webhook_doc(row: repo.WebhookRow) -> dict[str, Any]:
    """The API shape of a subscription (never its secret)."""
    return {
        "webhookId": row.id,
        "url": row.url,
        "eventTypes": list(row.event_types) or None,
        "description": row.description,
        "enabled": row.enabled,
        "insecureSkipVerify": row.insecure_skip_verify,
        "createdAt": row.created_at.isoformat(),
    }


def create(
    store: Store,
    clock: Clock,
    tenant: Tenant,
    body: Any,
    *,
    box: SecretBox,
    egress: EgressPolicy,
) -> dict[str, Any]:
    """Store a subscription; the answer carries its secret, the only time it is shown."""
    spec = parse_spec(body)
    egress.check_url(spec.url)
    secret = spec.secret or secrets.token_urlsafe(32)
    webhook_id = str(uuid.uuid4())
    with store.write() as uow:
        if uow.webhooks.count_webhooks(tenant) >= MAX_WEBHOOKS:
            # the request is well formed; the stored state refuses it until one is deleted
            raise Conflict(
                f"a registry has at most {MAX_WEBHOOKS} webhooks: delete one to add another"
            )
        row = uow.webhooks.insert_webhook(
            tenant,
            webhook_id=webhook_id,
            url=spec.url,
            secret=box.seal(secret, webhook_id),
            event_types=spec.event_types,
            description=spec.description,
            insecure_skip_verify=spec.insecure_skip_verify,
            at=clock.now(),
        )
    return {**webhook_doc(row), "secret": secret}


def list_all(store: Store, tenant: Tenant) -> list[dict[str, Any]]:
    """Every subscription of the tenant."""
    with store.read() as uow:
        return [webhook_doc(r) for r in uow.webhooks.list_webhooks(tenant)]


def get(store: Store, tenant: Tenant, webhook_id: str) -> dict[str, Any]:
    """One subscription."""
    with store.read() as uow:
        row = uow.webhooks.get_webhook(tenant, webhook_id)
    if row is None:
        raise WebhookNotFound(webhook_id)
    return webhook_doc(row)


def remove(store: Store, tenant: Tenant, webhook_id: str) -> None:
    """Delete a subscription and its delivery log; pending attempts are dropped."""
    with store.write() as uow:
        if not uow.webhooks.delete_webhook(tenant, webhook_id):
            raise WebhookNotFound(webhook_id)


def send_test(store: Store, clock: Clock, tenant: Tenant, webhook_id: str) -> dict[str, Any]:
    """Queue a ping for one subscription through the outbox (the path every event takes)."""
    with store.write() as uow:
        if uow.webhooks.get_webhook(tenant, webhook_id) is None:
            raise WebhookNotFound(webhook_id)
        new_id = uow.outbox.append(WebhookTest(tenant, clock.now(), webhook_id))
    return {"webhookId": webhook_id, "eventId": event_id(tenant.account_id, tenant.region, new_id)}


def _untoken(value: str, bound_to: str) -> int:
    after = page_token.decode(value, bound_to=bound_to)
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise InvalidInput("nextToken is not a token this listing issued (or it was altered)")
    return after


def deliveries(
    store: Store,
    tenant: Tenant,
    webhook_id: str,
    *,
    next_token: str | None,
    max_results: str | None,
    status: str | None,
) -> dict[str, Any]:
    """A page of the delivery log, one entry per attempt, in the order they were scheduled."""
    try:
        limit = MAX_DELIVERIES_PAGE if max_results is None else int(max_results)
    except ValueError as exc:
        raise InvalidInput("maxResults must be a number") from exc
    if not 1 <= limit <= MAX_DELIVERIES_PAGE:
        raise InvalidInput(f"maxResults must be between 1 and {MAX_DELIVERIES_PAGE}")
    if status is not None and status not in repo.STATUSES:
        raise InvalidInput(f"status must be one of {list(repo.STATUSES)}")
    bound_to = page_token.request_digest({"webhook": webhook_id, "status": status})
    after = _untoken(next_token, bound_to) if next_token else 0
    with store.read() as uow:
        if uow.webhooks.get_webhook(tenant, webhook_id) is None:
            raise WebhookNotFound(webhook_id)
        rows = uow.webhooks.list_attempts(
            webhook_id, after_id=after, limit=limit + 1, status=status
        )
    page = rows[:limit]
    out: dict[str, Any] = {
        "deliveries": [
            {
                "deliveryId": r.id,
                "eventId": (
                    None
                    if r.account_id is None or r.region is None
                    else event_id(r.account_id, r.region, r.event_id)
                ),
                "outboxId": r.event_id,
                "eventType": r.event_type,
                "attempt": r.attempt,
                "status": r.status,
                "httpStatus": r.http_status,
                "error": r.error,
                "durationMs": r.duration_ms,
                "scheduledAt": r.next_attempt_at.isoformat(),
                "attemptedAt": None if r.attempted_at is None else r.attempted_at.isoformat(),
                "createdAt": r.created_at.isoformat(),
            }
            for r in page
        ]
    }
    if len(rows) > limit:
        out["nextToken"] = page_token.encode(page[-1].id, bound_to=bound_to)
    return out
