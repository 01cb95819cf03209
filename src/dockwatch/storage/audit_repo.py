"""The storage interface of the audit log: who changed what, from where, when, with what outcome.

Entries are appended and never updated; they leave only by age (`purge_before`, the retention
setting). Listings are newest first and resume after an entry id (keyset pages), so a page never
shifts when entries are appended while a client pages through. `storage/sql/audit_repo.py`
implements it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from dockwatch.model.identity import Tenant
from dockwatch.value_class import frozen


@frozen
class AuditEntry:
    """One change, or one refused attempt at a change."""

    at: datetime
    """When the request (or command) finished, UTC."""
    principal: str
    """The authenticated user name; the OS user for a command line change."""
    source: str
    """The client address as the server saw it (or a trusted proxy's X-Forwarded-For);
    `cli@<host>` for a command line change."""
    action: str
    """What was asked: `METHOD /route/{template}` over HTTP, `cli <command>` on the command line."""
    resource: str
    """What it was asked of: the request path, or what the command acted on."""
    status: int
    """The outcome as an HTTP status: 2xx done, 4xx refused, 5xx failed (commands: 200 or 500)."""
    error_code: str | None = None
    """The error type of a refusal (`ValidationException`, `MANIFEST_UNKNOWN`, ...)."""


@frozen
class AuditRow:
    """A stored entry and its id (the keyset position)."""

    id: int
    entry: AuditEntry


@frozen
class AuditQuery:
    """A filter over the log; every field left None matches everything."""

    principal: str | None = None
    """Exactly this principal."""
    action: str | None = None
    """Exactly this action."""
    resource_prefix: str | None = None
    """Resources starting with this text (`/api/v1/webhooks` for every webhook change)."""
    since: datetime | None = None
    """At or after this time."""
    until: datetime | None = None
    """Before this time."""
    before_id: int | None = None
    """Only entries older than this id (the page token's position)."""
    limit: int = 100
    """At most this many entries."""


class AuditRepo(Protocol):
    """The append-only audit log of one database."""

    def append(self, tenant: Tenant, entry: AuditEntry) -> int:
        """Store an entry; returns its id."""
        ...

    def list(self, tenant: Tenant, query: AuditQuery) -> list[AuditRow]:
        """Entries matching `query`, newest first."""
        ...

    def purge_before(self, tenant: Tenant, cutoff: datetime) -> int:
        """Delete entries older than `cutoff`; returns how many."""
        ...
