"""The storage interface for advisories, feed update operations and their deltas, enrichment (CVSS, KEV, EPSS).

Services depend on this protocol only; `storage/sql/vuln_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

# --- reads for matching and finding drafts (scanning) ------------------------------------------


@dataclass(frozen=True, slots=True)
class AffectedRow:
    """One affected entry as read back for matching."""

    source: str
    advisory_id: str
    ecosystem: str
    name: str
    entry: dict[str, Any]


DeltaRow = tuple[int, str, str, str, list[list[str]]]
"""(version, source, advisory id, change, package keys) of one changed advisory."""

# --- end of the reads for scanning ---------------------------------------------------------------


class VulnRepo(Protocol):
    """Advisories, feed update operations and their deltas, enrichment (CVSS, KEV, EPSS)."""

    # --- reads for matching and finding drafts (scanning) --------------------------------------

    def current_version(self) -> int:
        """The newest database version (0 for an empty database)."""
        ...

    def all_affected(self) -> Iterable[AffectedRow]:
        """Every affected entry of every non-withdrawn advisory (for the in-memory index)."""
        ...

    def affected_for(self, keys: Iterable[tuple[str, str]]) -> list[AffectedRow]:
        """Affected entries of non-withdrawn advisories under the (ecosystem, name) keys."""
        ...

    def changes_between(self, after: int, upto: int) -> list[DeltaRow]:
        """Delta rows of the versions in (after, upto]."""
        ...

    def advisory_contents(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Stored contents of (source, advisory id) keys (withdrawn ones included)."""
        ...

    def enrichment_for(self, cve_ids: Iterable[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """cve -> enrichment kind -> content, for the given CVEs."""
        ...

    # --- end of the reads for scanning -------------------------------------------------------
