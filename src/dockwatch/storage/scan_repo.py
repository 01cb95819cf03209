"""The storage interface for scanning configuration, per-image scan state and coverage.

Services depend on this protocol only; `storage/sql/scan_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from typing import Protocol


class ScanRepo(Protocol):
    """Scanning configuration, per-image scan state and coverage."""
