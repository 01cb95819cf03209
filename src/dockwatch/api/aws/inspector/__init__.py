"""Inspector2 operations by name: each module of this package contributes its `OPERATIONS`,
merged here. The HTTP method and path of each come from botocore's model (`http.requestUri`)."""

from __future__ import annotations

from dockwatch.api.aws.context import Handler

from . import (
    configuration,
    coverage,
    enablement,
    filters,
    findings,
    organization,
    permissions_ops,
    reports,
    sbom,
    usage,
)

OPERATIONS: dict[str, Handler] = {}
"""Every implemented Inspector2 operation by its name in botocore's model."""
for _module in (
    findings,
    coverage,
    configuration,
    filters,
    enablement,
    organization,
    permissions_ops,
    reports,
    sbom,
    usage,
):
    OPERATIONS.update(_module.OPERATIONS)
