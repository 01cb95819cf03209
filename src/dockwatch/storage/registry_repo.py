"""The storage interface for repositories, blob links, manifests, tags, uploads, pulls.

Services depend on this protocol only; `storage/sql/registry_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from typing import Protocol


class RegistryRepo(Protocol):
    """Repositories, blob links, manifests, tags, uploads, pulls."""
