"""Inspector2's ListAccountPermissions: what the calling account may configure.

dockwatch scans container images only, so permissions are about the `ECR` service: a
standalone account may enable and disable scanning and each repository's scanning. Pages
follow `maxResults` and an opaque `nextToken` bound to the request's filter.
"""

from __future__ import annotations

from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.api.aws.errors import AwsError
from dockwatch.errors import InvalidInput
from dockwatch.model import page_token

ECR_OPERATIONS = ("ENABLE_SCANNING", "DISABLE_SCANNING", "ENABLE_REPOSITORY", "DISABLE_REPOSITORY")
DEFAULT_PAGE = 1024


def permissions(ctx: AwsContext) -> list[dict[str, str]]:
    """Every permission of the calling account, in a stable order."""
    return [{"service": "ECR", "operation": op} for op in ECR_OPERATIONS]


async def list_account_permissions(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """One page of the account's permissions, optionally for one service."""
    wanted = body.get("service")
    found = [p for p in permissions(ctx) if wanted is None or p["service"] == wanted]
    bound = page_token.request_digest({"op": "ListAccountPermissions", "service": wanted})
    start = 0
    if body.get("nextToken"):
        try:
            start = int(page_token.decode(body["nextToken"], bound_to=bound))
        except (InvalidInput, TypeError, ValueError) as exc:
            raise AwsError(
                "ValidationException",
                "The nextToken is not valid for this request.",
                400,
                members={
                    "reason": "FIELD_VALIDATION_FAILED",
                    "fields": [{"name": "nextToken", "message": "not a token for this request"}],
                },
            ) from exc
    end = start + int(body.get("maxResults", DEFAULT_PAGE))
    out: dict[str, Any] = {"permissions": found[start:end]}
    if end < len(found):
        out["nextToken"] = page_token.encode(end, bound_to=bound)
    return out


OPERATIONS: dict[str, Handler] = {"ListAccountPermissions": list_account_permissions}
