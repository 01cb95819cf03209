"""Where AWS requests enter: one ASGI door in front of the rest of the app.

A request is the AWS APIs' when it is `POST /` (ECR's awsJson1.1), when its method and path
are one of Inspector2's operations, or when it carries a SigV4 signature (header or presigned query)
anywhere but `/v2`, `/api/` and the operations endpoints. SigV4 is its own authentication, so
these requests bypass the HTTP Basic door of `/v2` and `/api/v1`; everything else goes on to
the app unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from dockwatch.api.deferred import Deferred
from dockwatch.app import Services
from dockwatch.value_class import frozen

if TYPE_CHECKING:
    from dockwatch.api.aws.protocol import ServicesFor

NOT_AWS_PREFIXES = ("/v2", "/api/", "/-/")
NOT_AWS_PATHS = ("/healthz", "/metrics", "/api")


def may_be_aws_request(scope: Scope) -> bool:
    """False for the requests that are never the AWS APIs', told by their path alone."""
    path: str = scope["path"]
    return path not in NOT_AWS_PATHS and not path.startswith(NOT_AWS_PREFIXES)


def is_aws_request(scope: Scope, is_inspector_path: Callable[[str, str], bool]) -> bool:
    """Whether a request is for the AWS protocol adapters (`is_inspector_path`: Inspector2's
    operation table)."""
    if not may_be_aws_request(scope):
        return False
    if scope["path"] == "/" and scope["method"] == "POST":
        return True
    raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").partition("?")[0]
    if is_inspector_path(scope["method"], raw):
        return True
    if b"X-Amz-Algorithm=" in scope.get("query_string", b""):
        return True
    return any(k == b"authorization" and v.startswith(b"AWS4-") for k, v in scope["headers"])


Adapter = Callable[[Request], Awaitable[Response]]


@frozen
class Adapters:
    """The protocol adapters, and the Inspector2 route table that tells its requests."""

    ecr: Adapter
    inspector: Adapter
    is_inspector_path: Callable[[str, str], bool]


def make_adapters(services: Services, services_for: ServicesFor | None) -> Adapters:
    """Import the AWS layer (botocore's models and signer) and build its adapters."""
    from dockwatch.api.aws.ecr_protocol import EcrProtocol
    from dockwatch.api.aws.inspector_protocol import InspectorProtocol, is_inspector_path, routes
    from dockwatch.api.aws.protocol import AwsCore

    core = AwsCore(services, services_for or services.for_tenant)
    routes()  # the Inspector2 model, read now rather than by the first request
    return Adapters(EcrProtocol(core), InspectorProtocol(core), is_inspector_path)


class AwsMount:
    """Sends AWS requests to their protocol adapter and the rest to `app`. The adapters are
    made on the first request whose path may be AWS's (`deferred.py`), or ahead by
    `adapters.get()`."""

    def __init__(
        self, app: ASGIApp, services: Services, services_for: ServicesFor | None = None
    ) -> None:
        self.app = app
        self.adapters = Deferred(lambda: make_adapters(services, services_for))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one request."""
        if scope["type"] != "http" or not may_be_aws_request(scope):
            await self.app(scope, receive, send)
            return
        adapters = await self.adapters.ready()
        if not is_aws_request(scope, adapters.is_inspector_path):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        adapter = adapters.ecr if scope["path"] == "/" else adapters.inspector
        response = await adapter(request)
        await response(scope, receive, send)
