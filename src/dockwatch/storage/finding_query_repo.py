"""The storage interface for Inspector's query surface over findings: filter criteria, listing, sorting, aggregations.

Services depend on this protocol only; `storage/sql/finding_query_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from typing import Protocol


class FindingQueryRepo(Protocol):
    """Inspector's query surface over findings: filter criteria, listing, sorting, aggregations."""
