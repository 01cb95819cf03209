"""The connection under a unit of work, for the registry, outbox and findings functions that
still take one (`registry_repo.get_repository`, `outbox.append`, `FindingWriter.apply`).

Scanning opens every transaction through `Store`; this is the one place where it reaches
below the unit of work, and it goes once those repositories have protocol methods for what
scanning asks of them.
"""

from __future__ import annotations

from typing import Any

from dockwatch.storage.unit_of_work import UnitOfWork


def connection(uow: UnitOfWork) -> Any:
    """The SQL connection the unit of work runs in."""
    return uow.conn  # type: ignore[attr-defined]
