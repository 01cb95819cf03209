"""ECR operations by name (`AmazonEC2ContainerRegistry_V20150921.<Name>`): each module of this
package contributes its `OPERATIONS`, merged here."""

from __future__ import annotations

from dockwatch.api.aws.context import Handler

from . import authorization, repository_policy

OPERATIONS: dict[str, Handler] = {}
"""Every implemented ECR operation by its name in botocore's model."""
OPERATIONS.update(authorization.OPERATIONS)
OPERATIONS.update(repository_policy.OPERATIONS)
