"""The storage interface for Inspector's organization: the delegated administrator of a region
and the member accounts it associated.

Services depend on this protocol only; `storage/sql/organization_repo.py` implements it (SQLite
and PostgreSQL through SQLAlchemy Core), inside the unit of work that hands it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from dockwatch.value_class import frozen


@frozen
class DelegatedAdminRecord:
    """The delegated administrator of one region, and the management account that named it."""

    region: str
    account_id: str
    management_account_id: str
    status: str
    updated_at: datetime


@frozen
class MemberRecord:
    """One member account of a region's organization and its relationship status."""

    region: str
    account_id: str
    delegated_admin_account_id: str
    relationship_status: str
    updated_at: datetime


class OrganizationRepo(Protocol):
    """Delegated administrators and members."""

    def delegated_admin(self, region: str) -> DelegatedAdminRecord | None:
        """The region's delegated administrator, None when there is none."""
        ...

    def put_delegated_admin(self, record: DelegatedAdminRecord) -> None:
        """Name (or replace) the region's delegated administrator."""
        ...

    def delete_delegated_admin(self, region: str) -> bool:
        """Remove the region's delegated administrator; False when there was none."""
        ...

    def member(self, region: str, account_id: str) -> MemberRecord | None:
        """One account's membership in the region, None when it was never associated."""
        ...

    def put_member(self, record: MemberRecord) -> None:
        """Create or replace an account's membership."""
        ...

    def members(
        self,
        region: str,
        admin_account_id: str,
        statuses: Sequence[str] | None,
        after: str | None,
        limit: int,
    ) -> list[MemberRecord]:
        """Up to `limit` members of `admin_account_id` by account id after `after`, only those
        with one of `statuses` when given."""
        ...

    def set_member_statuses(
        self, region: str, admin_account_id: str, status: str, at: datetime
    ) -> int:
        """Give every member of `admin_account_id` the status `status`; how many changed."""
        ...
