"""What every Inspector2 handler shares: dockwatch errors as Inspector's, blocking work off the
event loop, the organization of the caller's region and the accounts it sees."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from anyio import to_thread

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.api.aws.errors import AwsError
from dockwatch.errors import Conflict, InvalidInput, NotFound
from dockwatch.model.identity import Tenant
from dockwatch.organization.service import AccessDenied, Organization

T = TypeVar("T")


def validation(message: str) -> AwsError:
    """Inspector's 400 for input it refuses."""
    return AwsError("ValidationException", message, 400)


def access_denied(message: str) -> AwsError:
    """Inspector's 403."""
    return AwsError("AccessDeniedException", message, 403)


def not_found(message: str) -> AwsError:
    """Inspector's 404."""
    return AwsError("ResourceNotFoundException", message, 404)


def as_aws(exc: Exception) -> AwsError | None:
    """The Inspector error for a dockwatch error, None for anything else."""
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, AccessDenied):
        return access_denied(str(exc))
    if isinstance(exc, NotFound):
        return not_found(str(exc))
    if isinstance(exc, Conflict):
        return AwsError("ConflictException", str(exc), 409)
    if isinstance(exc, InvalidInput):
        return validation(str(exc))
    return None


def operation(fn: Handler) -> Handler:
    """A handler whose dockwatch errors leave as Inspector's (ValidationException,
    AccessDeniedException, ResourceNotFoundException, ConflictException)."""

    @functools.wraps(fn)
    async def wrapped(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return await fn(ctx, body)
        except Exception as exc:
            mapped = as_aws(exc)
            if mapped is None or mapped is exc:
                raise
            raise mapped from exc

    return wrapped


async def blocking(fn: Callable[..., T], *args: Any) -> T:
    """Run store and scanner calls on a worker thread."""
    return await to_thread.run_sync(fn, *args)


def organization(ctx: AwsContext) -> Organization:
    """The organization of the caller's region."""
    services = ctx.services
    return Organization(services.store, services.clock, services.settings.management_account_id)


def visible_tenants(ctx: AwsContext) -> list[Tenant]:
    """The tenants whose findings and coverage the caller reads: itself, and its associated
    members when it is the delegated administrator (sorted by account id)."""
    accounts = organization(ctx).managed_accounts(ctx.tenant)
    return [Tenant(a, ctx.tenant.region) for a in accounts]
