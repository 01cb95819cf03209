"""ECR's GetAuthorizationToken: a registry login for the caller's account.

The token is base64("AWS:" + a login token) valid 12 hours (`accounts/registry_tokens.py`);
`docker login -u AWS -p <password>` / `skopeo login` with the decoded password acts in the
caller's (account, region) on `/v2`. `registryIds`, deprecated in ECR, may name only the
caller's own account here.
"""

from __future__ import annotations

from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.api.aws.errors import AwsError


def proxy_endpoint(ctx: AwsContext) -> str:
    """This server's URL as clients reach it (the `proxyEndpoint`)."""
    s = ctx.services.settings
    scheme = "https" if s.tls_cert else "http"
    return f"{scheme}://{s.host}:{s.port}"


async def get_authorization_token(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """One authorization for the caller's account."""
    for registry_id in body.get("registryIds") or ():
        if registry_id != ctx.tenant.account_id:
            raise AwsError(
                "InvalidParameterException",
                f"registryIds may name only the caller's account {ctx.tenant.account_id}",
            )
    tokens = ctx.services.registry_tokens
    if tokens is None:
        raise AwsError("ServerException", "registry tokens are not configured", 500)
    minted = tokens.authorization_token(ctx.tenant, ctx.principal.user)
    return {
        "authorizationData": [
            {
                "authorizationToken": minted.token,
                "expiresAt": minted.expires_at.timestamp(),
                "proxyEndpoint": proxy_endpoint(ctx),
            }
        ]
    }


OPERATIONS: dict[str, Handler] = {"GetAuthorizationToken": get_authorization_token}
