"""The authentication door of the HTTP edge: Basic credentials, registry tokens, failure
limits, bounded work.

A request that passes leaves with `state["tenant"]` (the (account, region) it acts in),
`state["user"]` (the name it authenticated with) and `state["principal"]` (the IAM ARN a
repository policy names it by); a bearer token's granted scope is in `state["access"]`.
ECR login tokens (`AWS:<token>`) and bearer tokens are checked by their MAC, without scrypt.

Every request but the operations endpoints must carry credentials. Before any hashing, a client
address or a user name that failed too often is answered 429 with `Retry-After`; a verification
waits for one of a few slots (scrypt takes 16 MiB and tens of milliseconds) and is answered 503
with `Retry-After` when none frees in time. Errors take the family's shape: AWS-style under
/api/, the OCI distribution body elsewhere.
"""

from __future__ import annotations

import json
import math
import re

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from dockwatch.accounts.registry_tokens import LOGIN_USER, RegistryTokens

from .auth import Authenticator, BasicCredentials, parse_basic, user_arn
from .oci.routes import API_VERSION
from .throttle import FailureLimiter, GateBusy, VerificationGate

PUBLIC_PATHS = ("/healthz", "/metrics")

_SHAPES = {
    401: ("UnauthorizedException", "UNAUTHORIZED", "authentication required"),
    429: ("TooManyRequestsException", "TOOMANYREQUESTS", "too many failed authentications"),
    503: ("ServiceUnavailableException", "UNAVAILABLE", "too many authentications at once"),
}


_REPOSITORY_PATH = re.compile(r"^/v2/(?P<name>.+)/(?:manifests|blobs|tags|referrers)/")


def bearer_challenge(scope: Scope) -> str:
    """The OCI token challenge of a /v2 request: the realm is this server's `/v2/token`."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    host = headers.get("host", "localhost")
    proto = headers.get("x-forwarded-proto", scope.get("scheme", "http"))
    challenge = f'Bearer realm="{proto}://{host}/v2/token",service="{host}"'
    m = _REPOSITORY_PATH.match(scope["path"])
    if m is not None:
        challenge += f',scope="repository:{m.group("name")}:pull,push"'
    return challenge


def _refusal(
    scope: Scope, status: int, retry_after: float | None = None, challenge: str | None = None
) -> Response:
    aws_type, oci_code, message = _SHAPES[status]
    doc: dict[str, object]
    if scope["path"].startswith("/api/"):
        doc = {"__type": aws_type, "message": message}
    else:
        doc = {"errors": [{"code": oci_code, "message": message, "detail": None}]}
    body = json.dumps(doc).encode()
    headers = {**API_VERSION, "Content-Type": "application/json", "Content-Length": str(len(body))}
    if status == 401:
        headers["WWW-Authenticate"] = challenge or 'Basic realm="dockwatch"'
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
        tokens: RegistryTokens | None = None,
        bearer_challenges: bool = False,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.tokens = tokens
        """Verifies ECR login tokens and bearer tokens (None: Basic users only)."""
        self.bearer_challenges = bearer_challenges
        """Whether /v2 answers 401 with the OCI token challenge instead of Basic's."""
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
        challenge = None
        if (
            self.bearer_challenges
            and scope["path"].startswith("/v2")
            and scope["path"] != "/v2/token"
        ):
            challenge = bearer_challenge(scope)
        if header is not None and header[:7].lower() == "bearer ":
            if self._bearer(scope, header[7:]):
                await self.app(scope, receive, send)
            else:
                await _refusal(scope, 401, challenge=challenge)(scope, receive, send)
            return
        creds = parse_basic(header)
        if creds is None:  # no credentials is not a guess: clients probe without them first
            await _refusal(scope, 401, challenge=challenge)(scope, receive, send)
            return
        address = scope["client"][0] if scope.get("client") else "-"
        if creds.username == LOGIN_USER and self.tokens is not None:
            # `AWS` is every token holder's user name: a bad token counts against its client
            # address only, so that no one can lock the other token holders out
            wait = self.by_address.retry_after(address)
            if wait > 0:
                await _refusal(scope, 429, wait)(scope, receive, send)
            elif self._login_token(scope, creds.password):
                self.by_address.succeeded(address)
                await self.app(scope, receive, send)
            else:
                self.by_address.failed(address)
                await _refusal(scope, 401, challenge=challenge)(scope, receive, send)
            return
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
            await _refusal(scope, 401, challenge=challenge)(scope, receive, send)
            return
        # a success clears the address; a user's score only decays, so that a legitimate
        # client's successes do not reset the count of guesses spread over many addresses
        self.by_address.succeeded(address)
        tenant, name = self.authenticator.tenant_of(creds)
        state = scope.setdefault("state", {})
        state.update(user=creds.username, tenant=tenant, principal=user_arn(tenant, name))
        await self.app(scope, receive, send)

    def _login_token(self, scope: Scope, token: str) -> bool:
        """Accept an ECR login token (`AWS:<token>`): the request acts in its tenant."""
        claims = None if self.tokens is None else self.tokens.verify(token, "login")
        if claims is None:
            return False
        state = scope.setdefault("state", {})
        principal = user_arn(claims.tenant, claims.user)
        state.update(user=f"{LOGIN_USER}:{claims.user}", tenant=claims.tenant, principal=principal)
        return True

    def _bearer(self, scope: Scope, token: str) -> bool:
        """Accept a bearer token from `/v2/token` on /v2 requests (its scope is checked there)."""
        if (
            self.tokens is None
            or not scope["path"].startswith("/v2/")
            or scope["path"] == "/v2/token"
        ):
            return False
        claims = self.tokens.verify(token, "bearer")
        if claims is None:
            return False
        state = scope.setdefault("state", {})
        principal = user_arn(claims.tenant, claims.user)
        state.update(
            user=claims.user, tenant=claims.tenant, principal=principal, access=claims.access
        )
        return True

    async def _verify(self, authenticator: Authenticator, creds: BasicCredentials) -> bool:
        found = await authenticator.lookup_from_loop(creds)
        if found.cached:
            return True
        return await self.gate.run(lambda: authenticator.verify(creds, found.stored))
