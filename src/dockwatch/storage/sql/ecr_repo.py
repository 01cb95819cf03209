"""SQL for ECR's own resources: resource tags, lifecycle policies and previews, and the removal
of a whole repository. Implements `storage.ecr_repo.EcrRepo`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc
from dockwatch.storage.ecr_repo import LifecyclePolicyRow, LifecyclePreviewRow
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.shared_rows import put_row


def _of(table: Any, tenant: Tenant) -> list[Any]:
    return [table.c.account_id == tenant.account_id, table.c.region == tenant.region]


class SqlEcrRepo:
    """`storage.ecr_repo.EcrRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- resource tags -----------------------------------------------------------------------

    def resource_tags(self, tenant: Tenant, arn: str) -> list[tuple[str, str]]:
        r = t.resource_tags
        rows = self._conn.execute(
            select(r.c.tag_key, r.c.tag_value)
            .where(*_of(r, tenant), r.c.resource_arn == arn)
            .order_by(r.c.tag_key)
        )
        return [(row.tag_key, row.tag_value) for row in rows]

    def set_resource_tags(self, tenant: Tenant, arn: str, tags: list[tuple[str, str]]) -> None:
        key = ("account_id", "region", "resource_arn", "tag_key")
        for k, v in sorted(dict(tags).items()):  # the last value of a key given twice wins
            row = {"account_id": tenant.account_id, "region": tenant.region, "resource_arn": arn}
            put_row(self._conn, t.resource_tags, row | {"tag_key": k, "tag_value": v}, key)

    def remove_resource_tags(self, tenant: Tenant, arn: str, keys: list[str]) -> None:
        r = t.resource_tags
        if keys:
            self._conn.execute(
                delete(r).where(*_of(r, tenant), r.c.resource_arn == arn, r.c.tag_key.in_(keys))
            )

    # --- lifecycle policies ------------------------------------------------------------------

    def lifecycle_policy(self, tenant: Tenant, repository: str) -> LifecyclePolicyRow | None:
        p = t.lifecycle_policies
        row = self._conn.execute(
            select(p).where(*_of(p, tenant), p.c.repository == repository)
        ).first()
        return None if row is None else _policy(row)

    def lifecycle_policies(self, tenant: Tenant) -> list[LifecyclePolicyRow]:
        p = t.lifecycle_policies
        rows = self._conn.execute(select(p).where(*_of(p, tenant)).order_by(p.c.repository))
        return [_policy(row) for row in rows]

    def put_lifecycle_policy(
        self, tenant: Tenant, repository: str, text: str, at: datetime
    ) -> None:
        row = {
            "account_id": tenant.account_id,
            "region": tenant.region,
            "repository": repository,
            "policy_text": text,
            "updated_at": at,
        }
        put_row(self._conn, t.lifecycle_policies, row, ("account_id", "region", "repository"))

    def delete_lifecycle_policy(self, tenant: Tenant, repository: str) -> bool:
        p = t.lifecycle_policies
        done = self._conn.execute(delete(p).where(*_of(p, tenant), p.c.repository == repository))
        return bool(done.rowcount)

    def save_lifecycle_preview(
        self, tenant: Tenant, repository: str, policy_text: str, result: str, at: datetime
    ) -> None:
        p = t.lifecycle_previews
        self._conn.execute(delete(p).where(*_of(p, tenant), p.c.repository == repository))
        self._conn.execute(
            insert(p).values(
                account_id=tenant.account_id,
                region=tenant.region,
                repository=repository,
                policy_text=policy_text,
                result=result,
                created_at=at,
            )
        )

    def lifecycle_preview(self, tenant: Tenant, repository: str) -> LifecyclePreviewRow | None:
        p = t.lifecycle_previews
        row = self._conn.execute(
            select(p).where(*_of(p, tenant), p.c.repository == repository)
        ).first()
        if row is None:
            return None
        return LifecyclePreviewRow(
            row.repository, row.policy_text, row.result, as_utc(row.created_at)
        )

    # --- image tags ---------------------------------------------------------------------------

    def tags_newest_first(self, repo_id: int, digest: str) -> list[str]:
        g = t.tags
        rows = self._conn.execute(
            select(g.c.name)
            .where(g.c.repository_id == repo_id, g.c.manifest_digest == digest)
            .order_by(g.c.updated_at.desc(), g.c.name)
        )
        return [row.name for row in rows]

    # --- repositories ------------------------------------------------------------------------

    def delete_repository(self, tenant: Tenant, repo_id: int, arn: str) -> None:
        name = self._conn.execute(
            select(t.repositories.c.name).where(t.repositories.c.id == repo_id)
        ).scalar()
        for table in (t.tags, t.repository_blobs, t.uploads, t.image_scans, t.findings):
            self._conn.execute(delete(table).where(table.c.repository_id == repo_id))
        r = t.resource_tags
        self._conn.execute(delete(r).where(*_of(r, tenant), r.c.resource_arn == arn))
        for table in (t.lifecycle_policies, t.lifecycle_previews):
            self._conn.execute(delete(table).where(*_of(table, tenant), table.c.repository == name))
        self._conn.execute(delete(t.repositories).where(t.repositories.c.id == repo_id))


def _policy(row: Any) -> LifecyclePolicyRow:
    return LifecyclePolicyRow(row.repository, row.policy_text, as_utc(row.updated_at))
