"""The storage interface for ECR's own resources: resource tags, lifecycle policies and their
previews, and the removal of a whole repository (DeleteRepository).

`storage/sql/ecr_repo.py` implements it. Lifecycle policies are kept as the text the client
sent (ECR echoes it back byte for byte); the domain parses it (`registry/lifecycle/`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from dockwatch.model.identity import Tenant
from dockwatch.value_class import frozen


@frozen
class LifecyclePolicyRow:
    """A repository's lifecycle policy as stored."""

    repository: str
    text: str
    updated_at: datetime


@frozen
class LifecyclePreviewRow:
    """The last preview of a repository: the policy it evaluated and its JSON result."""

    repository: str
    policy_text: str
    result: str
    created_at: datetime


class EcrRepo(Protocol):
    """Resource tags, lifecycle policies and previews, repository removal."""

    # resource tags
    def resource_tags(self, tenant: Tenant, arn: str) -> list[tuple[str, str]]:
        """The (key, value) tags of a resource, by key."""
        ...

    def set_resource_tags(self, tenant: Tenant, arn: str, tags: list[tuple[str, str]]) -> None:
        """Add tags to a resource, replacing the values of keys it already has."""
        ...

    def remove_resource_tags(self, tenant: Tenant, arn: str, keys: list[str]) -> None:
        """Remove the given keys from a resource (absent keys are ignored)."""
        ...

    # lifecycle policies
    def lifecycle_policy(self, tenant: Tenant, repository: str) -> LifecyclePolicyRow | None:
        """The repository's lifecycle policy, or None."""
        ...

    def lifecycle_policies(self, tenant: Tenant) -> list[LifecyclePolicyRow]:
        """Every lifecycle policy of the tenant, by repository name."""
        ...

    def put_lifecycle_policy(
        self, tenant: Tenant, repository: str, text: str, at: datetime
    ) -> None:
        """Store (or replace) a repository's lifecycle policy."""
        ...

    def delete_lifecycle_policy(self, tenant: Tenant, repository: str) -> bool:
        """Remove a repository's lifecycle policy; True if there was one."""
        ...

    def save_lifecycle_preview(
        self, tenant: Tenant, repository: str, policy_text: str, result: str, at: datetime
    ) -> None:
        """Keep the latest preview of a repository (replacing the previous one)."""
        ...

    def lifecycle_preview(self, tenant: Tenant, repository: str) -> LifecyclePreviewRow | None:
        """The latest preview of a repository, or None."""
        ...

    # image tags
    def tags_newest_first(self, repo_id: int, digest: str) -> list[str]:
        """The tags pointing at a manifest, the most recently set first (ECR's imageTags
        order), then by name."""
        ...

    # repositories
    def delete_repository(self, tenant: Tenant, repo_id: int, arn: str) -> None:
        """Remove an empty repository (no manifests left) with every row that names it: tags,
        blob links, uploads, scan states, closed findings, resource tags, lifecycle policy."""
        ...
