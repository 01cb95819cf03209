"""Records every change made over HTTP in the audit log, as it is answered (before the last part
of its response, so a client's changes are logged in the order it made them).

Audited: every POST, PUT, PATCH and DELETE under /api/v1 (but the three POSTs that only read:
findings and aggregation listings and the scanning configuration preview), so that a route added
later is audited without naming it here; and on /v2 every DELETE (manifest, tag, blob, upload)
and every manifest PUT (which moves a tag). Blob upload requests are not: their bytes are
invisible until a manifest names them. Refusals (4xx) and failures (5xx) are recorded with their
status and error type; requests refused before authentication (401, 429) are not, as nobody can
be named and they would let an anonymous client fill the log.

Nothing of a request or response body is stored but the error type of a refusal, so a webhook
secret or a password never reaches the log. The source address is the TCP peer; the
X-Forwarded-For header is believed only when the peer is one of the configured trusted proxies,
and then the right-most address that is not itself a trusted proxy is taken.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Sequence

from anyio import CancelScope, to_thread
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dockwatch.app import Services
from dockwatch.audit.log import AuditLog
from dockwatch.storage.audit_repo import AuditEntry

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READ_ONLY_POSTS = frozenset(
    {
        "/api/v1/findings/list",
        "/api/v1/findings/aggregations/list",
        "/api/v1/registry/scanning-configuration/preview",
    }
)
_V2_TEMPLATES: list[tuple[re.Pattern[str], str, frozenset[str]]] = [
    (re.compile(r"^/v2/.+/blobs/uploads/[^/]+$"), "/v2/{name}/blobs/uploads/{id}", frozenset()),
    (re.compile(r"^/v2/.+/manifests/[^/]+$"), "/v2/{name}/manifests/{reference}", frozenset({"PUT"})),
    (re.compile(r"^/v2/.+/blobs/[^/]+$"), "/v2/{name}/blobs/{digest}", frozenset()),
]  # fmt: skip
_ERROR_BODY_LIMIT = 8192
_MAX_RESOURCE = 2048


def parse_networks(text: str) -> list[Network]:
    """Comma-separated CIDRs or addresses; ValueError names the first bad one."""
    out: list[Network] = []
    for item in (part.strip() for part in text.split(",")):
        if item:
            try:
                out.append(ipaddress.ip_network(item, strict=False))
            except ValueError as exc:
                raise ValueError(f"not an address or CIDR: {item!r}") from exc
    return out


def _v2_template(method: str, path: str) -> str | None:
    for pattern, template, also in _V2_TEMPLATES:
        if pattern.match(path):
            return template if method == "DELETE" or method in also else None
    return None


def audited_action(method: str, path: str) -> str | None:
    """`METHOD template` when the request is audited, None when it is not (before routing;
    /api/v1 templates are refined from the matched route afterwards)."""
    if method not in MUTATING:
        return None
    if path.startswith("/api/v1/") or path == "/api/v1":
        if method == "POST" and path.rstrip("/") in READ_ONLY_POSTS:
            return None
        return f"{method} {path}"
    if path.startswith("/v2/"):
        template = _v2_template(method, path)
        return None if template is None else f"{method} {template}"
    return None


def client_address(scope: Scope, trusted: Sequence[Network]) -> str:
    """The peer address, or the client a trusted proxy reports in X-Forwarded-For."""
    peer = scope["client"][0] if scope.get("client") else "-"
    if not trusted or not _in(peer, trusted):
        return peer
    forwarded: list[str] = []
    for k, v in scope["headers"]:
        if k == b"x-forwarded-for":
            forwarded += [a.strip() for a in v.decode("latin-1").split(",") if a.strip()]
    for address in reversed(forwarded):
        if not _in(address, trusted):
            return address
    return forwarded[0] if forwarded else peer


def _in(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in networks)


def _error_code(body: bytes) -> str | None:
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if isinstance(doc, dict):
        if isinstance(doc.get("__type"), str):
            return str(doc["__type"])
        errors = doc.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            code = errors[0].get("code")
            return code if isinstance(code, str) else None
    return None


class AuditMiddleware:
    """Sits inside the authentication door, so that the principal is known."""

    def __init__(self, app: ASGIApp, log: AuditLog, trusted_proxies: Sequence[Network]) -> None:
        self.app = app
        self.log = log
        self.trusted = list(trusted_proxies)

    def _log_of(self, scope: Scope) -> AuditLog:
        """The audit log of the tenant the caller acts in (an account sees its own entries)."""
        tenant = scope.get("state", {}).get("tenant")
        if tenant is None or tenant == self.log.tenant:
            return self.log
        return AuditLog(self.log.store, tenant, self.log.clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request through, then record it if it is a change."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        action = audited_action(method, path)
        if action is None:
            await self.app(scope, receive, send)
            return
        status = 500
        error_body = bytearray()
        recorded = False
        named: str = action

        async def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            name = named
            route = scope.get("route")
            if path.startswith("/api/v1/") and isinstance(route, Route):
                if "{rest:path}" not in route.path:  # the catch-all keeps the literal path
                    name = f"{method} {route.path.replace(':path}', '}')}"
            entry = AuditEntry(
                at=self.log.clock.now(),
                principal=str(scope.get("state", {}).get("user") or "anonymous"),
                source=client_address(scope, self.trusted),
                action=name,
                resource=path[:_MAX_RESOURCE],
                status=status,
                error_code=_error_code(bytes(error_body)) if status >= 400 else None,
            )
            try:  # shielded: a client hanging up after its change does not drop the entry
                with CancelScope(shield=True):
                    await to_thread.run_sync(self._log_of(scope).record, entry)
            except Exception:  # a lost entry is logged loudly; the answer still goes out
                logger.exception("could not record an audit entry: %s", entry)

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                if status >= 400:
                    room = _ERROR_BODY_LIMIT - len(error_body)
                    if room > 0:
                        error_body.extend(message.get("body", b"")[:room])
                if not message.get("more_body", False):
                    # before the answer's end: a client's next change, sent once this one is
                    # answered, is recorded after it (the log keeps the order they were made)
                    await record()
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            await record()


def audit_middleware(app: ASGIApp, services: Services) -> AuditMiddleware:
    """The audit recorder with the trusted proxies the settings list."""
    log = AuditLog(services.store, services.tenant, services.clock)
    return AuditMiddleware(app, log, parse_networks(services.settings.audit_trusted_proxies))
