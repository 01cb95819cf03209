"""Tables of the outbox, the job queue and webhooks."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from dockwatch.storage.sql.schema.base import UTC_TIMESTAMP, metadata, tenant_columns

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *tenant_columns(),
    Column("event_type", String(64), nullable=False),
    Column("subject", String(512), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UTC_TIMESTAMP, nullable=False),
    # a batch row (storage/sql/outbox_batches.py) holds the events (id - events, id] in `packed`
    Column("events", Integer, nullable=False, server_default="1"),
    Column("packed", LargeBinary),
    Index("ix_outbox_type", "event_type", "id"),
)


outbox_cursors = Table(
    "outbox_cursors",
    metadata,
    Column("subscriber", String(64), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
    Column("updated_at", UTC_TIMESTAMP, nullable=False),
)


jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("key", String(256), nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("error", Text),
    Column("created_at", UTC_TIMESTAMP, nullable=False),
    Column("updated_at", UTC_TIMESTAMP, nullable=False),
    Column("lease_until", UTC_TIMESTAMP),  # a running job's claim holds until then
    UniqueConstraint("key", name="uq_jobs_key"),
    Index("ix_jobs_state", "state", "id"),
)


webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(36), primary_key=True),
    *tenant_columns(),
    Column("url", Text, nullable=False),
    Column("secret", String(512), nullable=False),
    Column("event_types", Text, nullable=False),  # JSON list; empty means every deliverable type
    Column("description", Text, nullable=False, server_default=""),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("insecure_skip_verify", Boolean, nullable=False, server_default="0"),
    Column("start_after_id", BigInteger, nullable=False),  # outbox events up to here predate it
    Column("created_at", UTC_TIMESTAMP, nullable=False),
    Index("ix_webhooks_tenant", "account_id", "region", "created_at"),
)


webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("webhook_id", String(36), ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", BigInteger, nullable=False),  # outbox.id
    Column("attempt", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # PENDING, DELIVERED, FAILED, GAVE_UP
    Column("http_status", Integer),
    Column("error", Text),
    Column("duration_ms", Integer),
    Column("next_attempt_at", UTC_TIMESTAMP, nullable=False),
    Column("lease_until", UTC_TIMESTAMP),
    Column(
        "started_at", UTC_TIMESTAMP, nullable=False
    ),  # when the delivery (attempt 1) was created
    Column("attempted_at", UTC_TIMESTAMP),
    Column("created_at", UTC_TIMESTAMP, nullable=False),
    Column("updated_at", UTC_TIMESTAMP, nullable=False),
    UniqueConstraint("webhook_id", "event_id", "attempt", name="uq_webhook_deliveries_attempt"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
)
