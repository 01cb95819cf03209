"""The authentication door of the HTTP edge: Basic credentials, failure limits, bounded work.

Every request but the operations endpoints must carry credentials. Before any hashing, a client
address or a user name that failed too often is answered 429 with `Retry-After`; a verification
waits for one of a few slots (scrypt takes 16 MiB and tens of milliseconds) and is answered 503
with `Retry-After` when none frees in time. Errors take the family's shape: AWS-style under
/api/, the OCI distribution body elsewhere.
"""

from __future__ import annotations

import json
import math

from anyio import to_thread
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .auth import Authenticator, BasicCredentials, parse_basic
from .oci.routes import API_VERSION
from .throttle import FailureLimiter, GateBusy, VerificationGate

PUBLIC_PATHS = ("/healthz", "/metrics")

_SHAPES = {
    401: ("UnauthorizedException", "UNAUTHORIZED", "authentication required"),
    429: ("TooManyRequestsException", "TOOMANYREQUESTS", "too many failed authentications"),
    503: ("ServiceUnavailableException", "UNAVAILABLE", "too many authentications at once"),
}


def _refusal(scope: Scope, status: int, retry_after: float | None = None) -> Response:
    aws_type, oci_code, message = _SHAPES[status]
    doc: dict[str, object]
    if scope["path"].startswith("/api/"):
        doc = {"__type": aws_type, "message": message}
    else:
        doc = {"errors": [{"code": oci_code, "message": message, "detail": None}]}
    body = json.dumps(doc).encode()
    headers = {**API_VERSION, "Content-Type": "application/json", "Content-Length": str(len(body))}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="dockwatch"'
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return Response(body if scope["method"] != "HEAD" else b"", status, headers)


class AuthMiddleware:
    """HTTP Basic on everything but the operations endpoints, with failure limits per client
    address and per user name and a bound on concurrent password verifications."""

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator | None,
        *,
        by_address: FailureLimiter,
        by_user: FailureLimiter,
        gate: VerificationGate,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.by_address = by_address
        self.by_user = by_user
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let valid credentials through; refuse the rest in the family's error shape."""
        if scope["type"] != "http" or self.authenticator is None or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        header = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                header = v.decode("latin-1")
                break
        creds = parse_basic(header)
        if creds is None:  # no credentials is not a guess: clients probe without them first
            await _refusal(scope, 401)(scope, receive, send)
            return
        address = scope["client"][0] if scope.get("client") else "-"
        wait = max(self.by_address.retry_after(address), self.by_user.retry_after(creds.username))
        if wait > 0:
            await _refusal(scope, 429, wait)(scope, receive, send)
            return
        try:
            ok = await self._verify(self.authenticator, creds)
        except GateBusy:
            await _refusal(scope, 503, self.gate.wait)(scope, receive, send)
            return
        if not ok:
            self.by_address.failed(address)
            self.by_user.failed(creds.username)
            await _refusal(scope, 401)(scope, receive, send)
            return
        # a success clears the address; a user's score only decays, so that a legitimate
        # client's successes do not reset the count of guesses spread over many addresses
        self.by_address.succeeded(address)
        scope.setdefault("state", {})["user"] = creds.username
        await self.app(scope, receive, send)

    async def _verify(self, authenticator: Authenticator, creds: BasicCredentials) -> bool:
        found = await to_thread.run_sync(authenticator.lookup, creds)
        if found.cached:
            return True
        return await self.gate.run(lambda: authenticator.verify(creds, found.stored))
