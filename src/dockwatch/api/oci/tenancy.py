"""The /v2 door of each tenant: who is called, whose repository is named, and the token endpoint.

A request acts in the caller's tenant (`state["tenant"]`, set by the authentication door).
Another account's repository is named ECR's way: a `Host` whose first label is a 12-digit
account id (`222222222222.registry.example/repo`, as ECR's per-account hostnames), or, with one
host name, a path whose first component is a 12-digit account id
(`/v2/222222222222/repo/manifests/latest`). The prefix of the caller's own account is dropped,
so both spellings name its repositories. A request naming another account's repository is
served only as far as that repository's policy allows (`registry/repository_policy.py`), each
request mapped to the ECR action it stands for (a manifest GET is `ecr:BatchGetImage`, a blob
GET `ecr:GetDownloadUrlForLayer`, ...); anything else answers 403 DENIED, whether the
repository exists or not. `/v2/_catalog` lists the caller's repositories only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dockwatch.accounts.registry_tokens import BEARER_TTL, Access, RegistryTokens
from dockwatch.model.identity import Tenant
from dockwatch.registry.errors import Denied
from dockwatch.registry.repository_policy import check_cross_account

from .routes import API_VERSION, OciApi, oci_error

_PREFIX = re.compile(r"^/v2/(\d{12})(/.+)$")
_HOST_ACCOUNT = re.compile(r"^(\d{12})\.")
_SCOPE = re.compile(r"^repository:(?P<name>[^:]+):(?P<actions>[a-z*,]+)$")
_GRANTABLE = {"pull", "push", "delete", "*"}
_ECR_ACTIONS: list[tuple[re.Pattern[str], dict[str, str]]] = [
    (re.compile(r"/manifests/[^/]+$"), {
        "GET": "ecr:BatchGetImage", "HEAD": "ecr:BatchGetImage", "PUT": "ecr:PutImage",
        "DELETE": "ecr:BatchDeleteImage",
    }),
    (re.compile(r"/blobs/uploads/?$"), {"POST": "ecr:InitiateLayerUpload"}),
    (re.compile(r"/blobs/uploads/[^/]+$"), {
        "GET": "ecr:UploadLayerPart", "PATCH": "ecr:UploadLayerPart",
        "PUT": "ecr:CompleteLayerUpload", "DELETE": "ecr:UploadLayerPart",
    }),
    (re.compile(r"/blobs/[^/]+$"), {
        "GET": "ecr:GetDownloadUrlForLayer", "HEAD": "ecr:BatchCheckLayerAvailability",
        "DELETE": "ecr:BatchDeleteImage",
    }),
    (re.compile(r"/tags/list$"), {"GET": "ecr:ListImages"}),
    (re.compile(r"/referrers/[^/]+$"), {"GET": "ecr:BatchGetImage"}),
]  # fmt: skip


def ecr_action(method: str, path: str) -> str | None:
    """The ECR action a /v2 request stands for (None: not a repository operation)."""
    for pattern, methods in _ECR_ACTIONS:
        if pattern.search(path):
            return methods.get(method)
    return None


def split_target(host: str, path: str, caller: Tenant) -> tuple[Tenant, str, str | None]:
    """(the tenant whose registry is named, the path within it, the path prefix removed)."""
    m = _HOST_ACCOUNT.match(host)
    if m is not None:
        return Tenant(m.group(1), caller.region), path, None
    m = _PREFIX.match(path)
    if m is not None and not path.startswith("/v2/_catalog"):
        return Tenant(m.group(1), caller.region), "/v2" + m.group(2), f"/v2/{m.group(1)}"
    return caller, path, None


def _denied(message: str) -> Response:
    return oci_error(Denied(message))


def _covers(access: tuple[Access, ...], name: str, method: str) -> bool:
    """Whether a bearer token's scope grants this request on repository `name`."""
    need = "pull" if method in ("GET", "HEAD") else "delete" if method == "DELETE" else "push"
    for a in access:
        if a.repository == name and (need in a.actions or "*" in a.actions):
            return True
        if need == "delete" and a.repository == name and "push" in a.actions:
            return True
    return False


class TenantOci:
    """Dispatches each /v2 request to the `OciApi` of the tenant it names."""

    def __init__(
        self,
        services: Any,
        on_refused: Callable[[str], None] | None = None,
        tokens: RegistryTokens | None = None,
    ) -> None:
        self.services = services
        """The root `Services` (`for_tenant` gives each tenant's)."""
        self.on_refused = on_refused
        self.tokens = tokens
        self._apis: dict[Tenant, OciApi] = {}
        self._lock = threading.Lock()

    def api_for(self, tenant: Tenant) -> OciApi:
        """The cached /v2 dispatcher of `tenant`."""
        with self._lock:
            api = self._apis.get(tenant)
            if api is None:
                svc = self.services.for_tenant(tenant)
                api = self._apis[tenant] = OciApi(svc.registry, svc.pull_gate, self.on_refused)
                if svc.settings.blob_redirect == "presigned":
                    api.blob_redirect_seconds = svc.settings.blob_redirect_seconds
            return api

    @property
    def routes(self) -> list[tuple[re.Pattern[str], dict[str, Any]]]:
        """The route table (the same for every tenant)."""
        return self.api_for(self.services.tenant).routes

    async def __call__(self, request: Request) -> Response:
        """Check the caller's access to the named registry and dispatch."""
        state = request.scope.get("state", {})
        caller: Tenant = state.get("tenant") or self.services.tenant
        path = request.scope["path"]
        if path == "/v2/token":
            return await self.token(request, caller, str(state.get("user") or ""))
        target, inner, prefix = split_target(request.headers.get("host", ""), path, caller)
        name_match = re.match(r"^/v2/(?P<name>.+)/(?:manifests|blobs|tags|referrers)/", path)
        access = state.get("access")
        if access is not None and name_match is not None:
            if not _covers(access, name_match.group("name"), request.method):
                return _denied("the bearer token does not grant this access")
        if target != caller:
            action = ecr_action(request.method, inner)
            if action is None:
                return _denied("another account's registry serves repository operations only")
            m = re.match(r"^/v2/(?P<name>.+)/(?:manifests|blobs|tags|referrers)/", inner)
            assert m is not None  # an ECR action is a repository path
            principal = str(state.get("principal") or "")
            svc = self.services
            try:
                await to_thread.run_sync(
                    check_cross_account,
                    svc.store, target, m.group("name"), caller.account_id, principal, action,
                )  # fmt: skip
            except Denied as exc:
                return oci_error(exc)
        scope = dict(request.scope, path=inner, raw_path=inner.encode())
        response = await self.api_for(target)(Request(scope, request.receive))
        location = response.headers.get("location")
        if prefix is not None and location is not None and location.startswith("/v2/"):
            response.headers["location"] = prefix + location[3:]
        return response

    async def token(self, request: Request, caller: Tenant, user: str) -> Response:
        """`GET /v2/token`: Basic credentials (a user or `AWS:<token>`) for a bearer token with
        the requested scope (`repository:<name>:<actions>`, repeatable or space-separated).
        The token narrows what the credentials may do; each request is still checked."""
        if self.tokens is None:
            return _denied("registry tokens are not configured")
        if request.method != "GET":
            return JSONResponse({"errors": []}, status_code=405, headers=API_VERSION)
        granted: list[Access] = []
        for raw in request.query_params.getlist("scope"):
            for item in raw.split():
                m = _SCOPE.match(item)
                if m is None:
                    return JSONResponse(
                        {"errors": [{"code": "UNSUPPORTED", "message": f"bad scope {item!r}",
                                     "detail": None}]},
                        status_code=400, headers=API_VERSION,
                    )  # fmt: skip
                actions = tuple(a for a in m.group("actions").split(",") if a in _GRANTABLE)
                granted.append(Access(m.group("name"), actions))
        bare = user.split("/", 1)[-1].removeprefix("AWS:")
        minted = self.tokens.bearer_token(caller, bare, tuple(granted))
        issued = self.services.clock.now().astimezone(UTC)
        body = {
            "token": minted.token,
            "access_token": minted.token,
            "expires_in": int(BEARER_TTL.total_seconds()),
            "issued_at": issued.isoformat(),
        }
        return JSONResponse(body, headers=API_VERSION)
