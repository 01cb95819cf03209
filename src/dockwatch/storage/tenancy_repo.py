"""Tenancy storage: which (account, region) pairs hold data, and repository policies.

A repository policy is ECR's resource policy of one repository (its JSON text as set), read on
every cross-account pull (`registry/repository_policy.py`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from dockwatch.model.identity import Tenant


class TenancyRepo(Protocol):
    """Tenants with data and the repository policies."""

    def tenants(self) -> list[Tenant]:
        """Every (account, region) that has a repository or a scanning configuration."""
        ...

    def repository_policy(self, repository_id: int) -> str | None:
        """The policy text of a repository (None: it has none)."""
        ...

    def set_repository_policy(self, repository_id: int, text: str, at: datetime) -> None:
        """Store (or replace) a repository's policy."""
        ...

    def delete_repository_policy(self, repository_id: int) -> bool:
        """Drop a repository's policy; False when it had none."""
        ...
