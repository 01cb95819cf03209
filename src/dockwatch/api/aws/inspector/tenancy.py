"""The seam through which the delegated administrator writes a member's configuration: the
services of another tenant.

`services_for(ctx, tenant)` answers the caller's own services for its own tenant; for any other
tenant it asks the resolver installed with `install_resolver` (the server's per-tenant services,
wired at start-up), and answers InternalServerException when none is installed, so a write to a
member is never silently applied to the caller instead.
"""

from __future__ import annotations

from collections.abc import Callable

from dockwatch.api.aws.context import AwsContext
from dockwatch.api.aws.errors import AwsError
from dockwatch.app import Services
from dockwatch.model.identity import Tenant

ServicesResolver = Callable[[Tenant], Services]
"""The services of one (account, region)."""

_resolver: ServicesResolver | None = None


def install_resolver(resolver: ServicesResolver | None) -> None:
    """Install (or, with None, remove) how other tenants' services are found."""
    global _resolver
    _resolver = resolver


def services_for(ctx: AwsContext, tenant: Tenant) -> Services:
    """The services acting for `tenant`."""
    if tenant == ctx.tenant:
        return ctx.services
    if _resolver is None:
        raise AwsError(
            "InternalServerException",
            f"no services are wired for account {tenant.account_id} in {tenant.region}",
            500,
        )
    return _resolver(tenant)
