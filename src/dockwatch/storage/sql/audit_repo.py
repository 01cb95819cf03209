"""SQL implementation of `storage.audit_repo.AuditRepo`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc
from dockwatch.storage.audit_repo import AuditEntry, AuditQuery, AuditRow
from dockwatch.storage.sql import tables

_log = tables.audit_log


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlAuditRepo:
    """`storage.audit_repo.AuditRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def append(self, tenant: Tenant, entry: AuditEntry) -> int:
        result = self._conn.execute(
            _log.insert().values(
                account_id=tenant.account_id,
                region=tenant.region,
                at=entry.at,
                principal=entry.principal,
                source=entry.source,
                action=entry.action,
                resource=entry.resource,
                status=entry.status,
                error_code=entry.error_code,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def list(self, tenant: Tenant, query: AuditQuery) -> list[AuditRow]:
        stmt = select(_log).where(
            _log.c.account_id == tenant.account_id, _log.c.region == tenant.region
        )
        if query.principal is not None:
            stmt = stmt.where(_log.c.principal == query.principal)
        if query.action is not None:
            stmt = stmt.where(_log.c.action == query.action)
        if query.resource_prefix:
            stmt = stmt.where(
                _log.c.resource.like(_escape_like(query.resource_prefix) + "%", escape="\\")
            )
        if query.since is not None:
            stmt = stmt.where(_log.c.at >= query.since)
        if query.until is not None:
            stmt = stmt.where(_log.c.at < query.until)
        if query.before_id is not None:
            stmt = stmt.where(_log.c.id < query.before_id)
        stmt = stmt.order_by(_log.c.id.desc()).limit(query.limit)
        return [
            AuditRow(
                r.id,
                AuditEntry(
                    at=as_utc(r.at),
                    principal=r.principal,
                    source=r.source,
                    action=r.action,
                    resource=r.resource,
                    status=r.status,
                    error_code=r.error_code,
                ),
            )
            for r in self._conn.execute(stmt)
        ]

    def purge_before(self, tenant: Tenant, cutoff: datetime) -> int:
        result = self._conn.execute(
            _log.delete().where(
                _log.c.account_id == tenant.account_id,
                _log.c.region == tenant.region,
                _log.c.at < cutoff,
            )
        )
        return int(result.rowcount)
