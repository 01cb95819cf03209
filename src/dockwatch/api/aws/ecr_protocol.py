"""ECR over awsJson1.1: `POST /` with `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Op>`.

The target names the operation in `api.aws.ecr.OPERATIONS` (an operation botocore knows but
the table lacks is as unknown as a made-up one: UnknownOperationException). The body is JSON
(a malformed one: SerializationException), checked against the operation's input shape
(a wrong JSON type: SerializationException; enums, lengths, patterns, required members:
InvalidParameterException, as ECR names them); errors answer `{"__type", "message"}`.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dockwatch.api.aws import ecr
from dockwatch.api.aws.errors import AwsError
from dockwatch.api.aws.protocol import AwsCore, new_request_id, translate
from dockwatch.api.aws.shapes import check_input, operation_model, serialize_output, summary
from dockwatch.api.v1.body import depth_of
from dockwatch.errors import BackendUnavailable, Conflict, InvalidInput, NotFound
from dockwatch.registry.errors import ManifestUnknown, NameUnknown

TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
SERVICE = "ecr"
CONTENT_TYPE = "application/x-amz-json-1.1"

DEFAULTS: dict[type, tuple[str, int]] = {
    NameUnknown: ("RepositoryNotFoundException", 400),
    ManifestUnknown: ("ImageNotFoundException", 400),
    NotFound: ("InvalidParameterException", 400),
    InvalidInput: ("InvalidParameterException", 400),
    Conflict: ("InvalidParameterException", 400),
    BackendUnavailable: ("ServerException", 500),
}
"""dockwatch's error families as ECR answers them when a handler does not name the error."""


def render_error(error: AwsError, request_id: str) -> Response:
    """awsJson1.1's error answer."""
    doc: dict[str, Any] = {"__type": error.code}
    if error.message:
        doc["message"] = error.message
    doc.update(error.members)
    return Response(
        orjson.dumps(doc),
        error.status,
        {"x-amzn-RequestId": request_id},
        media_type=CONTENT_TYPE,
    )


class EcrProtocol:
    """The awsJson1.1 adapter of the ECR operation table."""

    def __init__(self, core: AwsCore) -> None:
        self.core = core

    async def __call__(self, request: Request) -> Response:
        """One ECR request, answered."""
        request_id = new_request_id()
        try:
            out = await self._answer(request, request_id)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an AWS answer
            return render_error(translate(exc, DEFAULTS, "ServerException"), request_id)
        return Response(
            orjson.dumps(out), 200, {"x-amzn-RequestId": request_id}, media_type=CONTENT_TYPE
        )

    async def _answer(self, request: Request, request_id: str) -> Any:
        caller = await self.core.authenticate(request, SERVICE)
        target = request.headers.get("x-amz-target", "")
        name = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else ""
        handler = ecr.OPERATIONS.get(name)
        model = operation_model(SERVICE, name) if name else None
        if handler is None or model is None:
            raise AwsError("UnknownOperationException", "", 400)
        doc = parse_body(caller.body, self.core.limits.max_depth)
        body, problems = check_input(model.input_shape, doc)
        if any(p.wrong_type for p in problems):
            raise AwsError("SerializationException", summary(problems), 400)
        if problems:
            raise AwsError("InvalidParameterException", summary(problems), 400)
        out = await self.core.run(handler, caller, body, request_id)
        return serialize_output(model.output_shape, out) or {}


def parse_body(raw: bytes, max_depth: int) -> Any:
    """The JSON document of a body (empty: `{}`), else SerializationException."""
    if not raw.strip():
        return {}
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise AwsError("SerializationException", f"Malformed JSON: {exc}", 400) from None
    if not isinstance(doc, dict):
        raise AwsError("SerializationException", "The body must be a JSON object.", 400)
    if depth_of(doc) > max_depth:
        raise AwsError("SerializationException", f"Nested deeper than {max_depth} levels.", 400)
    return doc
