"""Recording, listing and purging audit entries.

Adapters describe each change as an `AuditEntry` (the HTTP edge for every mutating request, the
command line for its changing commands) and hand it to `AuditLog.record`; nothing here sees a
request body, so no secret can reach the log. Listings take the query strings of
`GET /api/v1/audit` and page with the project's page token codec, bound to the filters.
"""

from __future__ import annotations

import getpass
import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dockwatch.clock import Clock, due
from dockwatch.errors import InvalidInput
from dockwatch.model import page_token
from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc, iso
from dockwatch.storage.audit_repo import AuditEntry, AuditQuery, AuditRow
from dockwatch.storage.unit_of_work import Store
from dockwatch.value_class import frozen

logger = logging.getLogger(__name__)

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100
PURGE_INTERVAL = timedelta(hours=1)
"""How often the retention pass runs: retention is counted in days."""


@frozen
class AuditPage:
    """One page of a listing and the token of the next (None on the last page)."""

    rows: list[AuditRow]
    next_token: str | None


def to_wire(row: AuditRow) -> dict[str, Any]:
    """An entry as `GET /api/v1/audit` shows it."""
    e = row.entry
    return {
        "eventId": str(row.id),
        "eventTime": iso(e.at),
        "principal": e.principal,
        "sourceAddress": e.source,
        "action": e.action,
        "resource": e.resource,
        "status": e.status,
        "outcome": "SUCCEEDED" if e.status < 400 else "DENIED" if e.status < 500 else "FAILED",
        "errorCode": e.error_code,
    }


def _time(name: str, value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError as exc:
        raise InvalidInput(f"{name} must be an ISO 8601 time, got {value!r}") from exc


def _limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_RESULTS
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_RESULTS:
        raise InvalidInput(f"maxResults must be a whole number from 1 to {MAX_RESULTS}")
    return n


def cli_entry(command: str, resource: str, status: int, at: datetime) -> AuditEntry:
    """The entry of a command line change: the OS user on this host is the principal."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container without /etc/passwd)
        import os

        user = f"uid:{os.getuid()}"
    return AuditEntry(
        at=at,
        principal=user,
        source=f"cli@{socket.gethostname()}",
        action=f"cli {command}",
        resource=resource,
        status=status,
        error_code=None if status < 400 else "CommandFailed",
    )


class AuditLog:
    """The audit log of one tenant."""

    def __init__(self, store: Store, tenant: Tenant, clock: Clock) -> None:
        self.store = store
        self.tenant = tenant
        self.clock = clock

    def record(self, entry: AuditEntry) -> int:
        """Append `entry` in its own transaction; returns its id."""
        with self.store.write() as uow:
            return uow.audit.append(self.tenant, entry)

    def list(self, params: Mapping[str, str]) -> AuditPage:
        """A page of entries matching the query strings `principal`, `action`, `resource`
        (a prefix), `since`, `until` (ISO 8601), `maxResults` (1-1000) and `nextToken`."""
        known = {"principal", "action", "resource", "since", "until", "maxResults", "nextToken"}
        unknown = sorted(set(params) - known)
        if unknown:
            raise InvalidInput(f"unknown parameter(s): {', '.join(unknown)}")
        since, until = _time("since", params.get("since")), _time("until", params.get("until"))
        if since is not None and until is not None and since >= until:
            raise InvalidInput("since must be before until")
        limit = _limit(params.get("maxResults"))
        filters = {k: params.get(k) or None for k in ("principal", "action", "resource")}
        bound = page_token.request_digest({**filters, "since": iso(since), "until": iso(until)})
        before: int | None = None
        token = params.get("nextToken")
        if token:
            position = page_token.decode(token, bound_to=bound)
            if not isinstance(position, int) or position < 1:
                raise InvalidInput("nextToken is not a token this listing issued")
            before = position
        query = AuditQuery(
            principal=filters["principal"],
            action=filters["action"],
            resource_prefix=filters["resource"],
            since=since,
            until=until,
            before_id=before,
            limit=limit + 1,
        )
        with self.store.read() as uow:
            rows = uow.audit.list(self.tenant, query)
        more = len(rows) > limit
        rows = rows[:limit]
        next_token = page_token.encode(rows[-1].id, bound_to=bound) if more else None
        return AuditPage(rows, next_token)


@dataclass(slots=True)
class AuditPurger:
    """Deletes entries older than the retention, at most once per `interval` of the injected
    clock (a test moving the clock ahead sees the purge on the worker's next round)."""

    tenant: Tenant
    retention: timedelta = timedelta(days=365)
    interval: timedelta = PURGE_INTERVAL
    last: datetime | None = None

    def run_if_due(self, store: Store, now: datetime) -> int:
        """Purge when due; returns how many entries were deleted (0 when not due)."""
        if not due(self.last, now, self.interval):
            return 0
        self.last = now
        with store.write() as uow:
            purged = uow.audit.purge_before(self.tenant, now - self.retention)
        if purged:
            logger.info("purged %d audit entries older than %s", purged, self.retention)
        return purged
