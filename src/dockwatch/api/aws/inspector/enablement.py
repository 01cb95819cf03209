"""Inspector2 Enable, Disable and BatchGetAccountStatus for ECR scanning.

Enabling ECR scanning for an account is switching its registry to enhanced scanning (with no
rules: every repository scanned continuously, Inspector's default); disabling it is switching
back to basic scanning ("the Amazon ECR scanning type for the account changes from enhanced
scanning with Amazon Inspector to basic scanning with Amazon ECR"). Both act at once, so the
answers say ENABLED / DISABLED rather than ENABLING / DISABLING. dockwatch scans container
images only: EC2, Lambda and code repositories are DISABLED, and asking to enable them is a
ValidationException.
"""

from __future__ import annotations

from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.model.identity import Tenant
from dockwatch.scan.config import ScanType

from .common import access_denied, blocking, operation, organization, validation, visible_tenants
from .coverage import scanning_configuration
from .tenancy import services_for

MEMBER_CANNOT_DISABLE = (
    "If your account is a member account in a multi-account environment, you cannot "
    "deactivate Amazon Inspector."
)
"""Inspector's words (User Guide, deactivating Amazon Inspector)."""
RESOURCE_TYPES = ("EC2", "ECR", "LAMBDA", "LAMBDA_CODE", "CODE_REPOSITORY")
_OTHER_RESOURCES = ("ec2", "lambda", "lambdaCode", "codeRepository")


def _status(ctx: AwsContext, tenant: Tenant) -> str:
    config = scanning_configuration(ctx.services.store, tenant)
    return "ENABLED" if config.scan_type is ScanType.ENHANCED else "DISABLED"


def _resource_status(ecr: str) -> dict[str, str]:
    return {"ec2": "DISABLED", "ecr": ecr, "lambda": "DISABLED", "lambdaCode": "DISABLED",
            "codeRepository": "DISABLED"}  # fmt: skip


def _account(tenant: Tenant, ecr: str) -> dict[str, Any]:
    return {"accountId": tenant.account_id, "status": ecr, "resourceStatus": _resource_status(ecr)}


def _resource_types(body: dict[str, Any], required: bool) -> None:
    types = body.get("resourceTypes")
    if types is None and not required:
        return
    if not isinstance(types, list) or not types:
        raise validation("resourceTypes must list at least one of " + ", ".join(RESOURCE_TYPES))
    unknown = [t for t in types if t not in RESOURCE_TYPES]
    if unknown:
        raise validation(f"resourceTypes: {unknown[0]!r} is not one of {', '.join(RESOURCE_TYPES)}")
    others = sorted({t for t in types if t != "ECR"})
    if others:
        raise validation(
            f"resourceTypes: dockwatch scans ECR container images only, not {', '.join(others)}"
        )


def _targets(ctx: AwsContext, body: dict[str, Any]) -> list[str]:
    ids = body.get("accountIds")
    if ids is None:
        return [ctx.tenant.account_id]
    if not isinstance(ids, list) or not all(isinstance(a, str) for a in ids):
        raise validation("accountIds must be a list of account ids")
    return list(dict.fromkeys(ids))


def _failed(account_id: str, code: str, message: str) -> dict[str, Any]:
    return {"accountId": account_id, "errorCode": code, "errorMessage": message}


def _switch(ctx: AwsContext, body: dict[str, Any], enable: bool) -> dict[str, Any]:
    """Enable or disable ECR scanning for each target account the caller may change."""
    accounts: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    managed = set(visible_tenants(ctx))
    allowed: list[Tenant] = []
    for account_id in _targets(ctx, body):
        if not (len(account_id) == 12 and account_id.isdigit()):
            failed.append(_failed(account_id, "RESOURCE_NOT_FOUND", "not a 12-digit account id"))
            continue
        tenant = Tenant(account_id, ctx.tenant.region)
        if tenant not in managed:
            failed.append(
                _failed(
                    account_id,
                    "ACCESS_DENIED",
                    "only the delegated administrator can change a member account",
                )
            )
            continue
        allowed.append(tenant)
    scanners = [(t, services_for(ctx, t).scanner) for t in allowed]  # all before any write
    for tenant, scanner in scanners:
        config, _ = scanner.settings()
        wanted = ScanType.ENHANCED if enable else ScanType.BASIC
        if config.scan_type is not wanted:
            scanner.put_scanning_configuration({"scanType": wanted.value, "rules": []})
        accounts.append(_account(tenant, "ENABLED" if enable else "DISABLED"))
    out: dict[str, Any] = {"accounts": accounts}
    if failed:
        out["failedAccounts"] = failed
    return out


@operation
async def enable(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """Enable: `resourceTypes` (ECR), `accountIds` (default: the caller; others only for the
    delegated administrator, about its members)."""
    _resource_types(body, required=True)
    return await blocking(_switch, ctx, body, True)


@operation
async def disable(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """Disable: refused for a member of an organization about itself (AccessDeniedException);
    the delegated administrator disables its members' scanning with `accountIds`."""
    _resource_types(body, required=False)

    def run() -> dict[str, Any]:
        role = organization(ctx).role(ctx.tenant)
        if role.member_of is not None and ctx.tenant.account_id in _targets(ctx, body):
            raise access_denied(MEMBER_CANNOT_DISABLE)
        return _switch(ctx, body, False)

    return await blocking(run)


def _state(status: str, what: str) -> dict[str, str]:
    """A `State`: the model requires an error code and message even for a healthy state."""
    if status == "ENABLED":
        return {
            "status": status,
            "errorCode": "ALREADY_ENABLED",
            "errorMessage": f"{what} is enabled",
        }
    return {"status": status, "errorCode": "RESOURCE_NOT_FOUND",
            "errorMessage": f"{what} is not enabled"}  # fmt: skip


@operation
async def batch_get_account_status(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """BatchGetAccountStatus: ENABLED / DISABLED per resource type of the caller (default) or of
    the accounts it names (itself, and its members when it is the delegated administrator;
    others are `failedAccounts` with ACCESS_DENIED)."""

    def run() -> dict[str, Any]:
        managed = set(visible_tenants(ctx))
        accounts: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for account_id in _targets(ctx, body):
            tenant = Tenant(account_id, ctx.tenant.region)
            if tenant not in managed:
                failed.append(
                    _failed(
                        account_id, "ACCESS_DENIED", "the account is not one the caller administers"
                    )
                )
                continue  # fmt: skip
            ecr = _status(ctx, tenant)
            resources = {name: _state("DISABLED", name) for name in _OTHER_RESOURCES}
            accounts.append(
                {
                    "accountId": account_id,
                    "state": _state(ecr, "Amazon Inspector"),
                    "resourceState": {**resources, "ecr": _state(ecr, "ECR scanning")},
                }
            )
        out: dict[str, Any] = {"accounts": accounts}
        if failed:
            out["failedAccounts"] = failed
        return out

    return await blocking(run)


OPERATIONS: dict[str, Handler] = {
    "Enable": enable,
    "Disable": disable,
    "BatchGetAccountStatus": batch_get_account_status,
}
