"""Which monitored images a proposed re-scan duration would expire at once (nothing is saved).

The same rule as the expiry pass (`eligibility.expire_pass`): under ENHANCED scanning, an ACTIVE
image of a CONTINUOUS_SCAN repository expires when the time since monitoring started (its last
activation, else its first push) and, where set, since its last pull exceed the durations. The
console shows the answer before a shortened duration is saved ("N images will expire now").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockwatch.value_class import frozen

from .config import ScanFrequency, ScanType
from .duration import EcrConfiguration, parse_ecr_configuration
from .environment import ScanEnvironment


@frozen
class ExpiringImage:
    """An image a proposed duration would stop monitoring."""

    repository: str
    digest: str


@frozen
class ExpiryPreview:
    """The proposed configuration and the images it would expire now (by repository, digest)."""

    proposed: EcrConfiguration
    images: tuple[ExpiringImage, ...]


def preview_expiry(env: ScanEnvironment, body: Mapping[str, Any]) -> ExpiryPreview:
    """Validate `body` as an `ecrConfiguration` update (fields left out keep their value) and
    list the images it would expire at once; raises `ScanConfigInvalid` on a bad value."""
    config, current = env.settings()
    proposed = parse_ecr_configuration(body, current)
    if config.scan_type is not ScanType.ENHANCED:
        return ExpiryPreview(proposed, ())
    now = env.clock.now()
    out: list[ExpiringImage] = []
    with env.store.read() as uow:
        pushed_images = uow.scans.active_pushed_images(env.tenant)
    for pushed in pushed_images:
        x = pushed.image
        if config.frequency_for(x.repository, x.scan_on_push) is not ScanFrequency.CONTINUOUS_SCAN:
            continue
        started = pushed.last_activated_at or pushed.last_pushed_at
        if proposed.expired(started, pushed.last_pulled_at, now):
            out.append(ExpiringImage(x.repository, x.digest))
    return ExpiryPreview(proposed, tuple(sorted(out, key=lambda i: (i.repository, i.digest))))
