"""SQL implementation of `storage.organization_repo.OrganizationRepo`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from dockwatch.model.times import as_utc
from dockwatch.storage.organization_repo import DelegatedAdminRecord, MemberRecord
from dockwatch.storage.sql import tables
from dockwatch.storage.sql.shared_rows import put_row

_admins = tables.inspector_delegated_admins
_members = tables.inspector_members


def _member(row: Any) -> MemberRecord:
    return MemberRecord(
        region=row.region,
        account_id=row.account_id,
        delegated_admin_account_id=row.delegated_admin_account_id,
        relationship_status=row.relationship_status,
        updated_at=as_utc(row.updated_at),
    )


class SqlOrganizationRepo:
    """`storage.organization_repo.OrganizationRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def delegated_admin(self, region: str) -> DelegatedAdminRecord | None:
        row = self._conn.execute(select(_admins).where(_admins.c.region == region)).first()
        if row is None:
            return None
        return DelegatedAdminRecord(
            region=row.region,
            account_id=row.account_id,
            management_account_id=row.management_account_id,
            status=row.status,
            updated_at=as_utc(row.updated_at),
        )

    def put_delegated_admin(self, record: DelegatedAdminRecord) -> None:
        row = {
            "region": record.region,
            "account_id": record.account_id,
            "management_account_id": record.management_account_id,
            "status": record.status,
            "updated_at": record.updated_at,
        }
        put_row(self._conn, _admins, row, ("region",))

    def delete_delegated_admin(self, region: str) -> bool:
        return self._conn.execute(_admins.delete().where(_admins.c.region == region)).rowcount > 0

    def member(self, region: str, account_id: str) -> MemberRecord | None:
        row = self._conn.execute(
            select(_members).where(_members.c.region == region, _members.c.account_id == account_id)
        ).first()
        return None if row is None else _member(row)

    def put_member(self, record: MemberRecord) -> None:
        row = {
            "region": record.region,
            "account_id": record.account_id,
            "delegated_admin_account_id": record.delegated_admin_account_id,
            "relationship_status": record.relationship_status,
            "updated_at": record.updated_at,
        }
        put_row(self._conn, _members, row, ("region", "account_id"))

    def members(
        self,
        region: str,
        admin_account_id: str,
        statuses: Sequence[str] | None,
        after: str | None,
        limit: int,
    ) -> list[MemberRecord]:
        query = select(_members).where(
            _members.c.region == region,
            _members.c.delegated_admin_account_id == admin_account_id,
        )
        if statuses is not None:
            query = query.where(_members.c.relationship_status.in_(list(statuses)))
        if after is not None:
            query = query.where(_members.c.account_id > after)
        rows = self._conn.execute(query.order_by(_members.c.account_id).limit(limit)).all()
        return [_member(r) for r in rows]

    def set_member_statuses(
        self, region: str, admin_account_id: str, status: str, at: datetime
    ) -> int:
        result = self._conn.execute(
            _members.update()
            .where(
                _members.c.region == region,
                _members.c.delegated_admin_account_id == admin_account_id,
                _members.c.relationship_status != status,
            )
            .values(relationship_status=status, updated_at=at)
        )
        return result.rowcount
