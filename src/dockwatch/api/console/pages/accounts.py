"""Accounts: the signed-in user's account, its access keys (never a secret), and Inspector's
organization as that account sees it (the organization service's rules, as the Inspector2 API
applies them: the delegated administrator sees its members, a member only itself)."""

from __future__ import annotations

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dockwatch.accounts.keys import AccessKey
from dockwatch.app import Services
from dockwatch.organization.service import Organization, Role
from dockwatch.storage.organization_repo import DelegatedAdminRecord, MemberRecord
from dockwatch.value_class import frozen

from ..context import Console
from ..page import NavItem, Page

MEMBERS_PAGE = 1000
"""Members are read from the organization service in pages of this size."""


@frozen
class AccountView:
    """What the accounts page shows for one account."""

    account_id: str
    name: str | None
    keys: list[AccessKey]
    role: Role
    delegated_admin: DelegatedAdminRecord | None
    members: list[MemberRecord]


def account_view(services: Services) -> AccountView:
    """The page's data for the services' tenant, read through the account and organization
    services (nothing the Inspector2 API would not show this account)."""
    tenant = services.tenant
    names = {a.account_id: a.name for a in services.accounts.list_accounts()}
    organization = Organization(
        services.store, services.clock, services.settings.management_account_id
    )
    role = organization.role(tenant)
    admin: DelegatedAdminRecord | None = None
    members: list[MemberRecord] = []
    if role.management or role.delegated_admin:
        admin = organization.delegated_admin(tenant)
    if role.delegated_admin:
        after: str | None = None
        while True:
            batch = organization.members(tenant, False, after, MEMBERS_PAGE)
            members.extend(batch)
            if len(batch) < MEMBERS_PAGE:
                break
            after = batch[-1].account_id
    elif role.member_of is not None:
        members = [organization.member(tenant, tenant.account_id)]
    return AccountView(
        account_id=tenant.account_id,
        name=names.get(tenant.account_id),
        keys=services.accounts.list_access_keys(tenant.account_id),
        role=role,
        delegated_admin=admin,
        members=members,
    )


def routes(console: Console) -> list[BaseRoute]:
    """GET /console/accounts."""

    async def show(request: Request) -> Response:
        view = await to_thread.run_sync(account_view, console.services)
        return console.renderer.page(request, "accounts.html", {"view": view})

    return [Route("/console/accounts", show, methods=["GET"])]


PAGE = Page("accounts", routes, NavItem("Accounts", "/console/accounts"))
