"""ECR operations by name (`AmazonEC2ContainerRegistry_V20150921.<Name>`): each module of this
package contributes its `OPERATIONS`, merged here."""

from __future__ import annotations

from dockwatch.api.aws.context import Handler

from . import (
    authorization,
    images,
    layers,
    lifecycle,
    registry_ops,
    replication,
    repositories,
    repository_policy,
    scanning,
    tagging,
)

OPERATIONS: dict[str, Handler] = {}
"""Every implemented ECR operation by its name in botocore's model."""
for _module in (
    registry_ops,
    repositories,
    images,
    layers,
    tagging,
    scanning,
    replication,
    lifecycle,
    authorization,
    repository_policy,
):
    OPERATIONS.update(_module.OPERATIONS)
