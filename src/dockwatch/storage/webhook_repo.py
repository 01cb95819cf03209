"""The storage interface for webhook subscriptions, their cursors and delivery log.

Services depend on this protocol only; `storage/sql/webhook_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from typing import Protocol


class WebhookRepo(Protocol):
    """Webhook subscriptions, their cursors and delivery log."""
