"""The services of another tenant, for the delegated administrator's writes to its members'
configuration: the caller's own services for itself, the server's per-tenant services
(`Services.for_tenant`) for any other."""

from __future__ import annotations

from dockwatch.api.aws.context import AwsContext
from dockwatch.app import Services
from dockwatch.model.identity import Tenant


def services_for(ctx: AwsContext, tenant: Tenant) -> Services:
    """The services acting for `tenant`."""
    if tenant == ctx.tenant:
        return ctx.services
    return ctx.services.for_tenant(tenant)
