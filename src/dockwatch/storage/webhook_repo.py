"""The storage interface for webhook subscriptions, their cursors and delivery log.

Services depend on this protocol only; `storage/sql/webhook_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.

The log has one row per attempt: attempt 1 is written PENDING when an event is fanned out; a
send turns it DELIVERED (2xx), FAILED (a later attempt follows, PENDING) or GAVE_UP. A row
stays PENDING until its result is written, so a crash after sending resends it: the only
source of duplicates. A lease keeps a row from being sent twice while a send is in flight.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from dockwatch.model.events import OutboxEvent
from dockwatch.model.identity import Tenant
from dockwatch.value_class import frozen

PENDING, DELIVERED, FAILED, GAVE_UP = "PENDING", "DELIVERED", "FAILED", "GAVE_UP"
STATUSES = (PENDING, DELIVERED, FAILED, GAVE_UP)


@frozen
class WebhookRow:
    """A stored subscription."""

    id: str
    account_id: str
    region: str
    url: str
    secret: str
    event_types: tuple[str, ...]
    """Empty: every deliverable type."""
    description: str
    enabled: bool
    insecure_skip_verify: bool
    start_after_id: int
    """Outbox events with this id or lower happened before the subscription and are not sent."""
    created_at: datetime


@frozen
class AttemptRow:
    """One row of the delivery log."""

    id: int
    webhook_id: str
    event_id: int
    event_type: str | None
    """None when the outbox row is gone."""
    account_id: str | None
    region: str | None
    attempt: int
    status: str
    http_status: int | None
    error: str | None
    duration_ms: int | None
    next_attempt_at: datetime
    started_at: datetime
    attempted_at: datetime | None
    created_at: datetime
    updated_at: datetime


@frozen
class DueAttempt:
    """A PENDING attempt whose time has come, with what sending it needs."""

    id: int
    attempt: int
    started_at: datetime
    webhook: WebhookRow
    event: OutboxEvent | None
    """None when the outbox row is gone (the attempt then gives up)."""


class WebhookRepo(Protocol):
    """Webhook subscriptions, their cursors and delivery log."""

    # --- subscriptions

    def insert_webhook(
        self,
        tenant: Tenant,
        *,
        webhook_id: str,
        url: str,
        secret: str,
        event_types: Sequence[str],
        description: str,
        insecure_skip_verify: bool,
        at: datetime,
    ) -> WebhookRow:
        """Store a subscription that receives events from now on (`secret` as stored)."""
        ...

    def count_webhooks(self, tenant: Tenant) -> int:
        """How many subscriptions the tenant has."""
        ...

    def get_webhook(self, tenant: Tenant, webhook_id: str) -> WebhookRow | None:
        """One of the tenant's subscriptions."""
        ...

    def list_webhooks(self, tenant: Tenant) -> list[WebhookRow]:
        """The tenant's subscriptions, oldest first."""
        ...

    def enabled_webhooks(self) -> list[WebhookRow]:
        """Every enabled subscription of every tenant (for the fan-out)."""
        ...

    def delete_webhook(self, tenant: Tenant, webhook_id: str) -> bool:
        """Remove a subscription and its delivery log; False when it did not exist."""
        ...

    def unsealed_secrets(self, prefix: str) -> list[tuple[str, str]]:
        """(id, secret) of subscriptions whose stored secret does not start with `prefix` (rows
        written before secrets were sealed)."""
        ...

    def set_secret(self, webhook_id: str, stored: str) -> None:
        """Replace a subscription's stored secret."""
        ...

    # --- the delivery log

    def insert_attempt(
        self,
        *,
        webhook_id: str,
        event_id: int,
        attempt: int,
        next_attempt_at: datetime,
        started_at: datetime,
        at: datetime,
    ) -> None:
        """Schedule attempt number `attempt` of sending one event to one subscription."""
        ...

    def any_due(self, now: datetime) -> bool:
        """Whether some attempt is due (a cheap read before taking the write lock)."""
        ...

    def claim_due(
        self, now: datetime, lease_until: datetime, limit: int, exclude: Collection[int] = ()
    ) -> list[DueAttempt]:
        """Due attempts of enabled subscriptions, oldest first, leased until `lease_until`;
        `exclude` names attempts the caller is still sending (their lease may have run out)."""
        ...

    def finish_attempt(
        self,
        attempt_id: int,
        *,
        status: str,
        http_status: int | None,
        error: str | None,
        duration_ms: int | None,
        at: datetime,
    ) -> bool:
        """Write a sent attempt's result; False when it was no longer PENDING (or is gone)."""
        ...

    def release_leases(self, at: datetime) -> int:
        """Drop the leases of PENDING attempts (their sender was killed); returns how many."""
        ...

    def list_attempts(
        self, webhook_id: str, *, after_id: int, limit: int, status: str | None = None
    ) -> list[AttemptRow]:
        """A page of a subscription's delivery log in the order attempts were scheduled."""
        ...

    def finding_detail(self, ref: str) -> Mapping[str, Any]:
        """The content-addressed finding detail a finding event's snapshot names (empty when
        it is gone): what rendering the event needs."""
        ...
