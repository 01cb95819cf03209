"""Identities every part keys on: the tenant (account, region) and the ARNs derived from it."""

from __future__ import annotations

from dockwatch.value_class import frozen


@frozen
class Tenant:
    """The (account, region) every stored row belongs to."""

    account_id: str
    region: str


@frozen
class ImageResource:
    """A scanned resource: one manifest digest in one repository of one tenant."""

    tenant: Tenant
    repository: str
    digest: str


def repository_arn(tenant: Tenant, repository: str) -> str:
    """ECR's repository ARN."""
    return f"arn:aws:ecr:{tenant.region}:{tenant.account_id}:repository/{repository}"


def image_arn(tenant: Tenant, repository: str, digest: str) -> str:
    """The resource id Inspector gives an ECR image."""
    return f"{repository_arn(tenant, repository)}/{digest}"


def finding_arn(tenant: Tenant, finding_id: str) -> str:
    """Inspector's finding ARN for a dockwatch finding id."""
    return f"arn:aws:inspector2:{tenant.region}:{tenant.account_id}:finding/{finding_id}"
