"""Finding events: the outbox keeps a compact snapshot; subscribers get Inspector's `Finding`.

The snapshot (row columns at the time of the change, tags, and the content-addressed detail ref)
is immutable, so materializing the same event twice gives the same body: a redelivered webhook
carries exactly what the first attempt carried.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from dockwatch.model.events import FindingChanged
from dockwatch.storage.sql import finding_repo as repo

from .shape import ImageContext, inspector_finding


def materialize(conn: Connection, event: FindingChanged) -> dict[str, Any]:
    """The Inspector `Finding` a finding event's snapshot describes."""
    detail = repo.load_details(conn, [event.detail_ref]).get(event.detail_ref, {})
    image = ImageContext(
        event.repository_name, event.image_digest, tuple(event.image_tags), event.pushed_at
    )
    return inspector_finding(
        event.tenant,
        image,
        finding_id=event.finding_id,
        status=event.status,
        severity=event.severity,
        fix_available=event.fix_available,
        first_observed_at=event.first_observed_at,
        last_observed_at=event.last_observed_at,
        updated_at=event.updated_at,
        detail=detail,
    )
