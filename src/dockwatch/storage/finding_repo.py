"""The storage interface for findings, their content-addressed details, suppression rules, rollups.

Services depend on this protocol only; `storage/sql/finding_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from typing import Protocol


class FindingRepo(Protocol):
    """Findings, their content-addressed details, suppression rules, rollups."""
