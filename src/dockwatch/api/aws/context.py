"""What an AWS operation handler receives: the caller, verified, and the services of the
(account, region) it acts in.

Handlers are `async def handler(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]`:
`body` is the request's JSON input, already checked against the operation's input shape in
botocore's model (for restJson1, path and query members merged in under their member names),
and the returned dict is the operation's output shape, serialized by the protocol adapter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from dockwatch.app import Services
from dockwatch.model.identity import Tenant
from dockwatch.value_class import frozen


@frozen
class Principal:
    """Who signed the request: the account, the user and the access key used."""

    account_id: str
    user: str
    access_key_id: str


@frozen
class AwsContext:
    """One verified AWS request: its signer, the tenant it acts in, and that tenant's services."""

    services: Services
    tenant: Tenant
    principal: Principal
    request_id: str


Handler = Callable[[AwsContext, dict[str, Any]], Awaitable[dict[str, Any]]]
"""One AWS operation: validated input in, output shape out; errors raised as `AwsError`."""
