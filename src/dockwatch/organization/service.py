"""The organization of one region: who is management, delegated administrator or member, and
the changes each may make (Inspector's rules, see docs/aws-inspector.md).

The management account is the server's configured one (`Settings.organization_management_account`,
by default the default account). One delegated administrator per region; members are associated
by it (relationshipStatus ENABLED) and disassociated (REMOVED), never deleted, so GetMember and
ListMembers(onlyAssociated=false) still name former members.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from dockwatch.clock import Clock
from dockwatch.errors import Conflict, DockwatchError, InvalidInput, NotFound
from dockwatch.model.identity import Tenant
from dockwatch.storage.organization_repo import (
    DelegatedAdminRecord,
    MemberRecord,
    OrganizationRepo,
)
from dockwatch.storage.unit_of_work import Store
from dockwatch.value_class import frozen

logger = logging.getLogger(__name__)

ENABLED, REMOVED = "ENABLED", "REMOVED"
"""Member relationship statuses dockwatch sets (Inspector's `RelationshipStatus`)."""
ADMIN_ENABLED = "ENABLED"
"""`DelegatedAdminStatus` of a named administrator (removal is immediate, so never
DISABLE_IN_PROGRESS)."""


class AccessDenied(DockwatchError):
    """The caller's place in the organization does not allow the request."""


@frozen
class Role:
    """What one account is in its region's organization."""

    account_id: str
    management: bool
    delegated_admin: bool
    member_of: str | None
    """The delegated administrator this account is an associated member of."""


def _check_account_id(value: str, field: str) -> None:
    if not (len(value) == 12 and value.isdigit()):
        raise InvalidInput(f"{field}: {value!r} is not a 12-digit account id")


class Organization:
    """Reads and changes the organization of one region."""

    def __init__(self, store: Store, clock: Clock, management_account_id: str) -> None:
        self.store = store
        self.clock = clock
        self.management_account_id = management_account_id

    # --- reading ---------------------------------------------------------------------------

    def role(self, tenant: Tenant) -> Role:
        """The caller's place in the organization of its region."""
        with self.store.read() as uow:
            admin = uow.organization.delegated_admin(tenant.region)
            member = uow.organization.member(tenant.region, tenant.account_id)
        return Role(
            account_id=tenant.account_id,
            management=tenant.account_id == self.management_account_id,
            delegated_admin=admin is not None and admin.account_id == tenant.account_id,
            member_of=(
                member.delegated_admin_account_id
                if member is not None and member.relationship_status == ENABLED
                else None
            ),
        )

    def managed_accounts(self, tenant: Tenant) -> list[str]:
        """The accounts whose findings and coverage `tenant` sees: itself, plus its associated
        members when it is the delegated administrator; sorted."""
        with self.store.read() as uow:
            admin = uow.organization.delegated_admin(tenant.region)
            if admin is None or admin.account_id != tenant.account_id:
                return [tenant.account_id]
            members = _all_members(uow.organization, tenant, [ENABLED])
        return sorted({tenant.account_id, *(m.account_id for m in members)})

    def delegated_admin(self, tenant: Tenant) -> DelegatedAdminRecord | None:
        """GetDelegatedAdminAccount: the management account and the administrator may ask."""
        role = self.role(tenant)
        if not (role.management or role.delegated_admin):
            raise AccessDenied(
                "Only the organization's management account or its delegated administrator "
                "can get the delegated administrator"
            )
        with self.store.read() as uow:
            return uow.organization.delegated_admin(tenant.region)

    def delegated_admins(self, tenant: Tenant) -> list[DelegatedAdminRecord]:
        """ListDelegatedAdminAccounts: the management account only."""
        self._require_management(tenant, "list delegated administrators")
        with self.store.read() as uow:
            admin = uow.organization.delegated_admin(tenant.region)
        return [] if admin is None else [admin]

    def member(self, tenant: Tenant, account_id: str) -> MemberRecord:
        """GetMember: the delegated administrator about its members, an account about itself."""
        _check_account_id(account_id, "accountId")
        role = self.role(tenant)
        if not role.delegated_admin and account_id != tenant.account_id:
            raise AccessDenied("Only the delegated administrator can get a member account")
        with self.store.read() as uow:
            found = uow.organization.member(tenant.region, account_id)
        if found is None or (
            role.delegated_admin
            and account_id != tenant.account_id
            and found.delegated_admin_account_id != tenant.account_id
        ):
            raise NotFound(f"Account {account_id} is not a member of this organization")
        return found

    def members(
        self, tenant: Tenant, only_associated: bool, after: str | None, limit: int
    ) -> list[MemberRecord]:
        """ListMembers of the delegated administrator (by account id, keyset after `after`)."""
        self._require_admin(tenant, "list members")
        statuses = [ENABLED] if only_associated else None
        with self.store.read() as uow:
            return uow.organization.members(
                tenant.region, tenant.account_id, statuses, after, limit
            )

    # --- changing --------------------------------------------------------------------------

    def enable_delegated_admin(self, tenant: Tenant, account_id: str) -> DelegatedAdminRecord:
        """EnableDelegatedAdminAccount: management only; another administrator already named
        is a conflict (disable it first); naming the same one again changes nothing."""
        _check_account_id(account_id, "delegatedAdminAccountId")
        self._require_management(tenant, "enable a delegated administrator")
        now = self.clock.now()
        with self.store.write() as uow:
            current = uow.organization.delegated_admin(tenant.region)
            if current is not None:
                if current.account_id == account_id:
                    return current
                raise Conflict(
                    f"Account {current.account_id} is already the delegated administrator: "
                    "disable it first"
                )
            record = DelegatedAdminRecord(
                tenant.region, account_id, tenant.account_id, ADMIN_ENABLED, now
            )
            uow.organization.put_delegated_admin(record)
        logger.info("delegated administrator %s named in %s", account_id, tenant.region)
        return record

    def disable_delegated_admin(self, tenant: Tenant, account_id: str) -> None:
        """DisableDelegatedAdminAccount: management only; the administrator's members are
        disassociated (REMOVED) with it."""
        _check_account_id(account_id, "delegatedAdminAccountId")
        self._require_management(tenant, "disable a delegated administrator")
        now = self.clock.now()
        with self.store.write() as uow:
            current = uow.organization.delegated_admin(tenant.region)
            if current is None or current.account_id != account_id:
                raise NotFound(f"Account {account_id} is not the delegated administrator")
            uow.organization.delete_delegated_admin(tenant.region)
            uow.organization.set_member_statuses(tenant.region, account_id, REMOVED, now)

    def associate(self, tenant: Tenant, account_id: str) -> None:
        """AssociateMember: the delegated administrator associates another account; an account
        associated with nobody else (or removed) becomes ENABLED."""
        _check_account_id(account_id, "accountId")
        self._require_admin(tenant, "associate members")
        if account_id == tenant.account_id:
            raise InvalidInput("accountId: the delegated administrator cannot be its own member")
        if account_id == self.management_account_id:
            raise InvalidInput("accountId: the management account cannot be a member")
        now = self.clock.now()
        with self.store.write() as uow:
            current = uow.organization.member(tenant.region, account_id)
            if current is not None and current.relationship_status == ENABLED:
                if current.delegated_admin_account_id == tenant.account_id:
                    return
                raise Conflict(f"Account {account_id} is a member of another administrator")
            uow.organization.put_member(
                MemberRecord(tenant.region, account_id, tenant.account_id, ENABLED, now)
            )

    def disassociate(self, tenant: Tenant, account_id: str) -> None:
        """DisassociateMember: the delegated administrator removes one of its members."""
        _check_account_id(account_id, "accountId")
        self._require_admin(tenant, "disassociate members")
        now = self.clock.now()
        with self.store.write() as uow:
            current = uow.organization.member(tenant.region, account_id)
            if (
                current is None
                or current.delegated_admin_account_id != tenant.account_id
                or current.relationship_status != ENABLED
            ):
                raise InvalidInput(f"accountId: {account_id} is not an associated member")
            uow.organization.put_member(
                MemberRecord(tenant.region, account_id, tenant.account_id, REMOVED, now)
            )

    # --- rules -----------------------------------------------------------------------------

    def _require_management(self, tenant: Tenant, what: str) -> None:
        if tenant.account_id != self.management_account_id:
            raise AccessDenied(f"Only the organization's management account can {what}")

    def _require_admin(self, tenant: Tenant, what: str) -> None:
        if not self.role(tenant).delegated_admin:
            raise AccessDenied(f"Only the delegated administrator can {what}")


def _all_members(
    repo: OrganizationRepo, tenant: Tenant, statuses: Sequence[str]
) -> list[MemberRecord]:
    """Every member of `tenant` with one of `statuses`, page by page."""
    out: list[MemberRecord] = []
    after: str | None = None
    while True:
        page = repo.members(tenant.region, tenant.account_id, statuses, after, 1000)
        out += page
        if len(page) < 1000:
            return out
        after = page[-1].account_id
