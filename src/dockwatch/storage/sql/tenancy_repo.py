"""SQL implementation of `storage.tenancy_repo.TenancyRepo`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, union

from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import tables

_policies = tables.repository_policies


class SqlTenancyRepo:
    """`storage.tenancy_repo.TenancyRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def tenants(self) -> list[Tenant]:
        repos, settings = tables.repositories, tables.scan_settings
        query = union(
            select(repos.c.account_id, repos.c.region),
            select(settings.c.account_id, settings.c.region),
        )
        rows = self._conn.execute(query).all()
        return [Tenant(str(a), str(r)) for a, r in sorted(rows)]

    def repository_policy(self, repository_id: int) -> str | None:
        value = self._conn.execute(
            select(_policies.c.policy_text).where(_policies.c.repository_id == repository_id)
        ).scalar_one_or_none()
        return None if value is None else str(value)

    def set_repository_policy(self, repository_id: int, text: str, at: datetime) -> None:
        done = self._conn.execute(
            _policies.update()
            .where(_policies.c.repository_id == repository_id)
            .values(policy_text=text, updated_at=at)
        )
        if done.rowcount == 0:
            self._conn.execute(
                _policies.insert().values(
                    repository_id=repository_id, policy_text=text, updated_at=at
                )
            )

    def delete_repository_policy(self, repository_id: int) -> bool:
        done = self._conn.execute(
            _policies.delete().where(_policies.c.repository_id == repository_id)
        )
        return done.rowcount > 0
