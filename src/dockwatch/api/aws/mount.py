"""Where AWS requests enter: one ASGI door in front of the rest of the app.

A request is the AWS APIs' when it is `POST /` (ECR's awsJson1.1), when its method and path
are one of Inspector2's operations, or when it carries a SigV4 signature (header or presigned query)
anywhere but `/v2`, `/api/` and the operations endpoints. SigV4 is its own authentication, so
these requests bypass the HTTP Basic door of `/v2` and `/api/v1`; everything else goes on to
the app unchanged.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from dockwatch.api.aws.ecr_protocol import EcrProtocol
from dockwatch.api.aws.inspector_protocol import InspectorProtocol, is_inspector_path
from dockwatch.api.aws.protocol import AwsCore, ServicesFor
from dockwatch.app import Services

NOT_AWS_PREFIXES = ("/v2", "/api/", "/-/")
NOT_AWS_PATHS = ("/healthz", "/metrics", "/api")


def is_aws_request(scope: Scope) -> bool:
    """Whether a request is for the AWS protocol adapters."""
    path: str = scope["path"]
    if path in NOT_AWS_PATHS or path.startswith(NOT_AWS_PREFIXES):
        return False
    if path == "/" and scope["method"] == "POST":
        return True
    raw = (scope.get("raw_path") or path.encode()).decode("latin-1").partition("?")[0]
    if is_inspector_path(scope["method"], raw):
        return True
    if b"X-Amz-Algorithm=" in scope.get("query_string", b""):
        return True
    return any(k == b"authorization" and v.startswith(b"AWS4-") for k, v in scope["headers"])


class AwsMount:
    """Sends AWS requests to their protocol adapter and the rest to `app`."""

    def __init__(
        self, app: ASGIApp, services: Services, services_for: ServicesFor | None = None
    ) -> None:
        self.app = app
        core = AwsCore(services, services_for or services.for_tenant)
        self.ecr = EcrProtocol(core)
        self.inspector = InspectorProtocol(core)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one request."""
        if scope["type"] != "http" or not is_aws_request(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        adapter = self.ecr if scope["path"] == "/" else self.inspector
        response = await adapter(request)
        await response(scope, receive, send)
