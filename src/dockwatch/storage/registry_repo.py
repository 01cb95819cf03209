"""The storage interface for repositories, blob links, manifests, tags, uploads, pulls.

Services depend on this protocol only; `storage/sql/registry_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from dockwatch.model.identity import Tenant

if TYPE_CHECKING:
    from dockwatch.storage.sql.registry_repo import ManifestRow, RepositoryRow


class RegistryRepo(Protocol):
    """Repositories, blob links, manifests, tags, uploads, pulls."""

    def repositories(self, tenant: Tenant) -> list[RepositoryRow]:
        """Every repository of the tenant with its settings, by name."""
        ...

    def manifests_of(self, repository_id: int) -> list[ManifestRow]:
        """The manifests stored in a repository, oldest push first."""
        ...

    def tags_of(self, repository_id: int, digest: str) -> list[str]:
        """Tags pointing at a manifest, by name."""
        ...
