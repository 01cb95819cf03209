"""Finding events: the outbox keeps a compact snapshot; subscribers get Inspector's `Finding`.

The snapshot (row columns at the time of the change, tags, and the content-addressed detail ref)
is immutable, so materializing the same event twice gives the same body: a redelivered webhook
carries exactly what the first attempt carried.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import finding_repo as repo

from .service import FINDING_EVENTS
from .shape import ImageContext, inspector_finding


def materialize(
    conn: Connection, tenant: Tenant, event_type: str, payload: Mapping[str, Any]
) -> dict[str, Any]:
    """The payload subscribers see: `{"finding": <Inspector Finding>, "changes": [...]}` for a
    finding event; any other event's payload unchanged."""
    if event_type not in FINDING_EVENTS or "detailRef" not in payload:
        return dict(payload)
    detail = repo.load_details(conn, [payload["detailRef"]]).get(payload["detailRef"], {})
    pushed = payload.get("pushedAt")
    image = ImageContext(
        payload["repositoryName"],
        payload["imageDigest"],
        tuple(payload.get("imageTags", ())),
        None if pushed is None else datetime.fromisoformat(pushed),
    )
    finding = inspector_finding(
        tenant,
        image,
        finding_id=payload["findingId"],
        status=payload["status"],
        severity=payload["severity"],
        fix_available=payload["fixAvailable"],
        first_observed_at=datetime.fromisoformat(payload["firstObservedAt"]),
        last_observed_at=datetime.fromisoformat(payload["lastObservedAt"]),
        updated_at=datetime.fromisoformat(payload["updatedAt"]),
        detail=detail,
    )
    out: dict[str, Any] = {"finding": finding}
    if payload.get("changes"):
        out["changes"] = list(payload["changes"])
    return out
