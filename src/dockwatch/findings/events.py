"""Finding events: the outbox keeps a compact snapshot; subscribers get Inspector's `Finding`.

The snapshot (row columns at the time of the change, tags, and the content-addressed detail ref)
is immutable, so materializing the same event twice gives the same body: a redelivered webhook
carries exactly what the first attempt carried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockwatch.model.events import FindingChanged

from .shape import ImageContext, inspector_finding


def materialize(event: FindingChanged, detail: Mapping[str, Any]) -> dict[str, Any]:
    """The Inspector `Finding` a finding event's snapshot describes, with `detail` the
    content-addressed detail document it names."""
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
