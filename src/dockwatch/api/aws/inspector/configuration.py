"""Inspector2 GetConfiguration and UpdateConfiguration: the re-scan durations of ECR images.

A member of an organization cannot change them (AccessDeniedException, as Inspector answers);
the delegated administrator's change applies to itself and every associated member ("When you
use this API as an Amazon Inspector delegated administrator this updates the setting for all
accounts you manage", Inspector's model).
"""

from __future__ import annotations

from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.model.identity import Tenant
from dockwatch.scan.duration import EcrConfiguration, parse_ecr_configuration
from dockwatch.storage.unit_of_work import Store

from .across import to_datetime
from .common import (
    access_denied,
    blocking,
    operation,
    organization,
    validation,
    visible_tenants,
)
from .tenancy import services_for

MEMBER_CANNOT_UPDATE = "Member accounts in an organization cannot update this setting."
"""Inspector's words for a member's UpdateConfiguration (its model's documentation)."""


def _target(ctx: AwsContext, account_id: Any) -> Tenant:
    """The tenant an `accountId` names: the caller, or (for the delegated administrator) one of
    its associated members."""
    if account_id is None or account_id == ctx.tenant.account_id:
        return ctx.tenant
    tenant = Tenant(str(account_id), ctx.tenant.region)
    if tenant not in visible_tenants(ctx):
        raise access_denied(f"Account {account_id} is not a member this account administers")
    return tenant


def ecr_configuration(store: Store, tenant: Tenant) -> tuple[EcrConfiguration, Any]:
    """A tenant's re-scan durations (defaults when never saved) and when they were saved."""
    with store.read() as uow:
        stored = uow.scans.settings(tenant)
        updated = uow.scans.settings_updated_at(tenant)
    ecr = (
        EcrConfiguration() if stored is None else parse_ecr_configuration(stored.ecr_configuration)
    )
    return ecr, updated


@operation
async def get_configuration(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """GetConfiguration: `ecrConfiguration.rescanDurationState` of the caller or, for the
    delegated administrator, of the member `accountId` names."""

    def run() -> dict[str, Any]:
        tenant = _target(ctx, body.get("accountId"))
        ecr, updated = ecr_configuration(ctx.services.store, tenant)
        state: dict[str, Any] = {**ecr.to_wire(), "status": "SUCCESS"}
        if updated is not None:
            state["updatedAt"] = to_datetime(updated)
        return {"ecrConfiguration": {"rescanDurationState": state}}

    return await blocking(run)


@operation
async def update_configuration(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """UpdateConfiguration: `ecrConfiguration {rescanDuration, pullDateRescanDuration,
    pullDateRescanMode}`; refused for members; the delegated administrator's applies to every
    account it manages (or to the one `accountId` names)."""
    ecr_body = body.get("ecrConfiguration")

    def run() -> dict[str, Any]:
        role = organization(ctx).role(ctx.tenant)
        if role.member_of is not None:
            raise access_denied(MEMBER_CANNOT_UPDATE)
        if ecr_body is None:
            return {}
        if not isinstance(ecr_body, dict):
            raise validation("ecrConfiguration must be an object")
        parse_ecr_configuration(ecr_body)  # refused before any account changes
        if body.get("accountId") is not None:
            targets = [_target(ctx, body["accountId"])]
        else:
            targets = visible_tenants(ctx)
        scanners = [services_for(ctx, t).scanner for t in targets]  # all found before any write
        for scanner in scanners:
            scanner.put_ecr_configuration(ecr_body)
        return {}

    return await blocking(run)


OPERATIONS: dict[str, Handler] = {
    "GetConfiguration": get_configuration,
    "UpdateConfiguration": update_configuration,
}
