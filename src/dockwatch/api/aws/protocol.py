"""What both AWS protocol adapters share: reading and verifying a request, the tenant's
services, the handler call, and turning any failure into an `AwsError`.

The tenant of a request is (the signer's account, the region of its credential scope); its
services come from the injected `services_for` (`Services.for_tenant` in the server).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from anyio import to_thread
from starlette.requests import Request

from dockwatch.accounts.keys import SigningCredential
from dockwatch.api.aws.context import AwsContext, Handler, Principal
from dockwatch.api.aws.errors import AwsError
from dockwatch.api.aws.sigv4 import SignedRequest, Verified, verify
from dockwatch.api.v1.body import BodyTooLarge, Limits, read_raw
from dockwatch.app import Services
from dockwatch.errors import DockwatchError
from dockwatch.model.identity import Tenant
from dockwatch.value_class import frozen

logger = logging.getLogger(__name__)

ServicesFor = Callable[[Tenant], Services]
"""The services of one (account, region)."""


def new_request_id() -> str:
    """The `x-amzn-RequestId` of one answer."""
    return str(uuid.uuid4())


@frozen
class Caller:
    """A verified request's signer and body."""

    verified: Verified
    body: bytes


class AwsCore:
    """Reads, verifies and runs AWS requests over the app's services."""

    def __init__(self, services: Services, services_for: ServicesFor) -> None:
        self.services = services
        self.services_for = services_for
        settings = services.settings
        self.limits = Limits(settings.max_request_body_bytes, settings.max_json_depth)
        self.regions = settings.served_regions

    async def authenticate(self, request: Request, service: str) -> Caller:
        """The body and the verified signer, else AwsError (size, signature)."""
        try:
            body = await read_raw(request, self.limits)
        except BodyTooLarge as exc:
            raise AwsError("RequestEntityTooLargeException", str(exc), 413) from exc
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        signed = SignedRequest(
            request.method,
            raw_path.decode("latin-1").partition("?")[0],
            request.scope.get("query_string", b"").decode("latin-1"),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]],
            body,
        )
        accounts = self.services.accounts

        def lookup(access_key_id: str) -> SigningCredential | None:
            try:
                return accounts.signing_credential(access_key_id)
            except DockwatchError:  # a secret this key file does not open
                logger.error("access key %s does not open with this key", access_key_id)
                return None

        def check() -> Verified:
            return verify(
                signed,
                lookup=lookup,
                now=self.services.clock.now(),
                regions=self.regions,
                service=service,
            )

        return Caller(await to_thread.run_sync(check), body)

    async def run(
        self, handler: Handler, caller: Caller, body: dict[str, Any], request_id: str
    ) -> dict[str, Any]:
        """The handler's answer in the caller's tenant."""
        cred = caller.verified.credential
        tenant = Tenant(cred.account_id, caller.verified.region)
        services = self.services_for(tenant)
        principal = Principal(cred.account_id, cred.user_name, cred.access_key_id)
        return await handler(AwsContext(services, tenant, principal, request_id), body)


def translate(exc: Exception, defaults: dict[type, tuple[str, int]], fallback: str) -> AwsError:
    """An AwsError for any failure: AwsError as is, dockwatch's families by `defaults` (the
    first family the error belongs to), anything else `fallback` with status 500 (logged)."""
    if isinstance(exc, AwsError):
        return exc
    for family, (code, status) in defaults.items():
        if isinstance(exc, family):
            if status >= 500:
                logger.warning("AWS request failed: %s", exc)
            return AwsError(code, str(exc), status)
    logger.exception("AWS request failed unexpectedly", exc_info=exc)
    return AwsError(fallback, "An internal error occurred.", 500)
