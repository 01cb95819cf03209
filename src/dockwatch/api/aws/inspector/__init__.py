"""Inspector2 operations by name: each module of this package contributes its `OPERATIONS`,
merged here. The HTTP method and path of each come from botocore's model (`http.requestUri`)."""

from __future__ import annotations

from dockwatch.api.aws.context import Handler

OPERATIONS: dict[str, Handler] = {}
"""Every implemented Inspector2 operation by its name in botocore's model."""

from dockwatch.api.aws.inspector import permissions_ops  # noqa: E402

OPERATIONS.update(permissions_ops.OPERATIONS)
