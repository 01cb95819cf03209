"""The storage interface for advisories, feed update operations and their deltas, enrichment (CVSS, KEV, EPSS).

Services depend on this protocol only; `storage/sql/vuln_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class VulnRepo(Protocol):
    """Advisories, feed update operations and their deltas, enrichment (CVSS, KEV, EPSS)."""

    def last_successes(self) -> dict[str, datetime | None]:
        """When each advisory source last succeeded (None: never), by source name."""
        ...
