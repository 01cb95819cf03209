"""Inspector2's organization operations: the delegated administrator (named and removed by the
management account) and the members it associates (see `organization.service` for the rules)."""

from __future__ import annotations

from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.model import page_token
from dockwatch.storage.organization_repo import MemberRecord

from .common import blocking, operation, organization, validation

MAX_MEMBERS = 50
"""ListMembers' `maxResults` bound."""
MAX_ADMINS = 5
"""ListDelegatedAdminAccounts' `maxResults` bound."""


def _member(record: MemberRecord) -> dict[str, Any]:
    return {
        "accountId": record.account_id,
        "relationshipStatus": record.relationship_status,
        "delegatedAdminAccountId": record.delegated_admin_account_id,
        "updatedAt": record.updated_at,
    }


def _account_id(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise validation(f"{name} is required")
    return value


@operation
async def enable_delegated_admin_account(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """EnableDelegatedAdminAccount: the management account only."""
    account = _account_id(body, "delegatedAdminAccountId")
    record = await blocking(organization(ctx).enable_delegated_admin, ctx.tenant, account)
    return {"delegatedAdminAccountId": record.account_id}


@operation
async def disable_delegated_admin_account(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """DisableDelegatedAdminAccount: the management account only; members are disassociated."""
    account = _account_id(body, "delegatedAdminAccountId")
    await blocking(organization(ctx).disable_delegated_admin, ctx.tenant, account)
    return {"delegatedAdminAccountId": account}


@operation
async def get_delegated_admin_account(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """GetDelegatedAdminAccount: `{delegatedAdmin: {accountId, relationshipStatus}}`, or `{}`
    while none is named."""
    record = await blocking(organization(ctx).delegated_admin, ctx.tenant)
    if record is None:
        return {}
    return {"delegatedAdmin": {"accountId": record.account_id, "relationshipStatus": "ENABLED"}}


@operation
async def list_delegated_admin_accounts(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """ListDelegatedAdminAccounts: the management account only; at most one per region."""
    limit = body.get("maxResults", MAX_ADMINS)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ADMINS:
        raise validation(f"maxResults must be a whole number from 1 to {MAX_ADMINS}")
    if body.get("nextToken"):
        raise validation("nextToken is not a token this listing issued")
    records = await blocking(organization(ctx).delegated_admins, ctx.tenant)
    return {
        "delegatedAdminAccounts": [{"accountId": r.account_id, "status": r.status} for r in records]
    }


@operation
async def associate_member(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """AssociateMember: the delegated administrator only."""
    account = _account_id(body, "accountId")
    await blocking(organization(ctx).associate, ctx.tenant, account)
    return {"accountId": account}


@operation
async def disassociate_member(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """DisassociateMember: the delegated administrator only."""
    account = _account_id(body, "accountId")
    await blocking(organization(ctx).disassociate, ctx.tenant, account)
    return {"accountId": account}


@operation
async def get_member(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """GetMember: the delegated administrator about a member, or an account about itself."""
    account = _account_id(body, "accountId")
    record = await blocking(organization(ctx).member, ctx.tenant, account)
    return {"member": _member(record)}


_MEMBERS_BOUND = "aws:ListMembers"


@operation
async def list_members(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """ListMembers: `onlyAssociated` (default true), `maxResults` (1-50, default 50),
    `nextToken`; by account id."""
    limit = body.get("maxResults", MAX_MEMBERS)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_MEMBERS:
        raise validation(f"maxResults must be a whole number from 1 to {MAX_MEMBERS}")
    only = body.get("onlyAssociated", True)
    if not isinstance(only, bool):
        raise validation("onlyAssociated must be true or false")
    bound = page_token.request_digest({"op": _MEMBERS_BOUND, "only": only})
    after = None
    if body.get("nextToken"):
        after = page_token.decode(body["nextToken"], bound_to=bound)
        if not isinstance(after, str):
            raise validation("nextToken is not a token this listing issued")
    records = await blocking(organization(ctx).members, ctx.tenant, only, after, limit + 1)
    out: dict[str, Any] = {"members": [_member(r) for r in records[:limit]]}
    if len(records) > limit:
        out["nextToken"] = page_token.encode(records[limit - 1].account_id, bound_to=bound)
    return out


OPERATIONS: dict[str, Handler] = {
    "EnableDelegatedAdminAccount": enable_delegated_admin_account,
    "DisableDelegatedAdminAccount": disable_delegated_admin_account,
    "GetDelegatedAdminAccount": get_delegated_admin_account,
    "ListDelegatedAdminAccounts": list_delegated_admin_accounts,
    "AssociateMember": associate_member,
    "DisassociateMember": disassociate_member,
    "GetMember": get_member,
    "ListMembers": list_members,
}
