"""The storage interface for per-layer catalog results and layer facts, keyed by layer digest and cataloger name@version; image inventories and the reverse index from package keys to images.

Services depend on this protocol only; `storage/sql/catalog_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from typing import Protocol


class CatalogRepo(Protocol):
    """Per-layer catalog results and layer facts, keyed by layer digest and cataloger name@version; image inventories and the reverse index from package keys to images."""
