"""ECR operations by name (`AmazonEC2ContainerRegistry_V20150921.<Name>`): each module of this
package contributes its `OPERATIONS`, merged here."""

from __future__ import annotations

from dockwatch.api.aws.context import Handler

from . import images, layers, lifecycle, replication, repositories, scanning, tagging

OPERATIONS: dict[str, Handler] = {}
"""Every implemented ECR operation by its name in botocore's model."""
OPERATIONS.update(repositories.OPERATIONS)
OPERATIONS.update(images.OPERATIONS)
OPERATIONS.update(layers.OPERATIONS)
OPERATIONS.update(tagging.OPERATIONS)
OPERATIONS.update(scanning.OPERATIONS)
OPERATIONS.update(replication.OPERATIONS)
OPERATIONS.update(lifecycle.OPERATIONS)
