"""ECR's registry-level description: DescribeRegistry.

dockwatch does not replicate images between registries, so the replication configuration is
always the empty one ECR reports for a registry that never configured replication.
"""

from __future__ import annotations

from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler


async def describe_registry(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """The registry id (the account) and its (empty) replication rules."""
    return {
        "registryId": ctx.tenant.account_id,
        "replicationConfiguration": {"rules": []},
    }


OPERATIONS: dict[str, Handler] = {"DescribeRegistry": describe_registry}
