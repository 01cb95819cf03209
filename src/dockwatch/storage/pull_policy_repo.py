"""The storage interface for pull policies, per-image pull allowances, and what judging a pull
reads about an image.

A policy is stored as the JSON document the API accepted, per tenant, under a repository name
(the empty name: the registry-wide policy). An allowance names one image (repository, manifest
digest) with a reason and an expiry. Services depend on this protocol only;
`storage/sql/pull_policy_repo.py` implements it. Every read happens in the unit of work of one
pull, so a policy, an allowance or a finding changed by another request is seen by the next pull
(nothing is cached).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from dockwatch.model.identity import Tenant
from dockwatch.value_class import frozen

REGISTRY_SCOPE = ""
"""The repository name the registry-wide policy is stored under."""


@frozen
class PolicyRecord:
    """A stored policy document."""

    repository: str
    """The repository it governs; `REGISTRY_SCOPE` for the registry-wide policy."""
    document: dict[str, Any]
    updated_at: datetime


@frozen
class AllowanceRecord:
    """A stored per-image allowance."""

    id: str
    repository: str
    digest: str
    reason: str
    expires_at: datetime
    created_at: datetime


@frozen
class OpenFinding:
    """An open finding (ACTIVE or SUPPRESSED) of an image, as a pull verdict reads it."""

    vulnerability_id: str
    severity: str
    exploit_available: str
    status: str
    suppressed_by: str | None
    package_name: str | None
    """The first vulnerable package of the finding's detail."""


class PullPolicyRepo(Protocol):
    """Pull policies, allowances, and the finding and reference reads of a pull verdict."""

    def policies_for(self, tenant: Tenant, repository: str) -> list[PolicyRecord]:
        """The registry-wide policy and the repository's own, whichever exist (one query)."""
        ...

    def get_policy(self, tenant: Tenant, repository: str) -> PolicyRecord | None:
        """The policy stored under `repository` (`REGISTRY_SCOPE`: the registry-wide one)."""
        ...

    def put_policy(
        self, tenant: Tenant, repository: str, document: dict[str, Any], at: datetime
    ) -> None:
        """Create or replace the policy stored under `repository`."""
        ...

    def delete_policy(self, tenant: Tenant, repository: str) -> bool:
        """Remove the policy stored under `repository`; False when there was none."""
        ...

    def add_allowance(self, tenant: Tenant, allowance: AllowanceRecord) -> None:
        """Store a new allowance."""
        ...

    def list_allowances(
        self, tenant: Tenant, repository: str | None, after: str | None, limit: int
    ) -> list[AllowanceRecord]:
        """Allowances ordered by id, optionally of one repository, after the id `after`."""
        ...

    def get_allowance(self, tenant: Tenant, allowance_id: str) -> AllowanceRecord | None:
        """One allowance by id."""
        ...

    def delete_allowance(self, tenant: Tenant, allowance_id: str) -> bool:
        """Remove an allowance; False when there was none."""
        ...

    def allowance_for_image(
        self,
        tenant: Tenant,
        repository: str,
        repository_id: int,
        image_digest: str,
        served_digest: str,
        now: datetime,
    ) -> AllowanceRecord | None:
        """An allowance of `repository`, expiring after `now`, for the image, for the manifest
        served, or for a manifest of the repository listing the image as a child (an index)."""
        ...

    def open_findings(self, repository_id: int, digest: str) -> list[OpenFinding]:
        """The ACTIVE and SUPPRESSED findings of an image resource, most severe first."""
        ...

    def rule_ids_in_force(self, tenant: Tenant, now: datetime) -> frozenset[str]:
        """Ids of the SUPPRESS rules not past their expiry at `now`."""
        ...
