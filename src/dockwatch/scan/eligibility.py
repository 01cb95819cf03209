"""Who stays monitored: configuration changes, deactivation and the periodic expiry pass.

Every configuration change (registry rules, scan type, the per-repository scan-on-push flag)
compares each repository's scan frequency before and after and acts on the images already
there (`apply_configuration`):

- newly covered (MANUAL or not enhanced -> SCAN_ON_PUSH / CONTINUOUS_SCAN): images pushed within
  the activation window are queued for a scan at once and show ACTIVE / PENDING_INITIAL_SCAN
  from the change on; older ones are INACTIVE / SCAN_ELIGIBILITY_EXPIRED;
- removed from every rule (-> MANUAL): findings closed, INACTIVE / SCAN_FREQUENCY_MANUAL;
- CONTINUOUS_SCAN -> SCAN_ON_PUSH: findings kept, ACTIVE / SCAN_FREQUENCY_SCAN_ON_PUSH, no delta
  rescans; SCAN_ON_PUSH -> CONTINUOUS_SCAN: re-matched against today's database at once and
  monitored from the change on.

Deactivation (ENHANCED -> BASIC) closes the enhanced findings, purges them and removes enhanced
coverage; the activation epoch moves, so a re-activation's findings get new ids. Indexes and
artifacts never get image coverage. The expiry pass (run by the worker, never computed on read)
turns images of continuously scanned repositories past their re-scan duration, counted from
`last_activated_at`, INACTIVE, closes their findings and writes a `CoverageChanged` event; a
push scans them again and starts monitoring anew.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from dockwatch.findings.purge import purge_deactivated
from dockwatch.model.oci import IMAGE_CONFIG_TYPES, INDEX_TYPES
from dockwatch.storage.scan_repo import PushedImage, ScanState
from dockwatch.storage.unit_of_work import UnitOfWork

from .config import RegistryScanningConfiguration, ScanFrequency, ScanType
from .coverage_state import forget_state, record_state
from .environment import ScanEnvironment
from .jobs import Recatalogue, RematchImage, ScanImage, enqueue

logger = logging.getLogger(__name__)

MANUAL_REASON = "SCAN_FREQUENCY_MANUAL"
ON_PUSH_REASON = "SCAN_FREQUENCY_SCAN_ON_PUSH"


def is_image(media_type: str, artifact_type: str | None) -> bool:
    """Whether a manifest is an image that gets image coverage: not an index, and not an
    artifact (signature, SBOM, attestation: an artifact type that is not an image config)."""
    if media_type in INDEX_TYPES:
        return False
    return artifact_type is None or artifact_type in IMAGE_CONFIG_TYPES


def not_covered(repository_id: int, digest: str, previous: ScanState | None) -> ScanState:
    """INACTIVE / SCAN_FREQUENCY_MANUAL, keeping what the last scan recorded."""
    if previous is None:
        return ScanState(
            repository_id, digest, "ENHANCED", "INACTIVE", MANUAL_REASON, None, 0, None, None
        )
    return dataclasses.replace(
        previous, scan_type="ENHANCED", status_code="INACTIVE", reason=MANUAL_REASON
    )


@dataclass(slots=True)
class ConfigurationApplied:
    """What a configuration change did to the images already stored."""

    queued: int = 0
    """Newly covered images within the activation window: scans queued."""
    expired: int = 0
    """Newly covered images older than the window: INACTIVE / SCAN_ELIGIBILITY_EXPIRED."""
    manual: int = 0
    """Images of repositories no rule covers any more (or never did)."""
    on_push: int = 0
    """Continuously scanned images whose repository became scan-on-push."""
    rematched: int = 0
    """Scan-on-push images whose repository became continuously scanned."""
    closed: int = 0
    """Findings closed."""


def apply_configuration(
    env: ScanEnvironment,
    uow: UnitOfWork,
    previous: RegistryScanningConfiguration,
    config: RegistryScanningConfiguration,
    now: datetime,
    *,
    repository: str | None = None,
    flags_before: Mapping[str, bool] | None = None,
) -> ConfigurationApplied:
    """Bring the stored images (of `repository`, or all) in line with `config`, which replaced
    `previous` (`flags_before`: scan-on-push flags that changed with it, by repository)."""
    out = ConfigurationApplied()
    enhanced = ScanType.ENHANCED
    if previous.scan_type is enhanced and config.scan_type is not enhanced:
        out.closed = deactivate(env, uow, now)
        return out
    if config.scan_type is not enhanced:
        return out  # basic scanning: a rule or flag applies to the next pushes only
    tenant = env.tenant
    states = uow.scans.enhanced_states(tenant)
    window = now - timedelta(days=env.activation_days)
    flags = flags_before or {}
    to_close: list[tuple[int, str, str]] = []
    for pushed in uow.scans.pushed_images(tenant):
        x = pushed.image
        if repository is not None and x.repository != repository:
            continue
        if not is_image(pushed.media_type, pushed.artifact_type):
            continue
        state = states.get((x.repository_id, x.digest))
        after = config.frequency_for(x.repository, x.scan_on_push)
        before = (
            previous.frequency_for(x.repository, flags.get(x.repository, x.scan_on_push))
            if previous.scan_type is enhanced
            else None
        )
        if after is ScanFrequency.MANUAL:
            if state is None or (state.status_code, state.reason) != ("INACTIVE", MANUAL_REASON):
                record_state(uow, tenant, not_covered(x.repository_id, x.digest, state), now)
                out.manual += 1
                if state is not None:
                    to_close.append((x.repository_id, x.repository, x.digest))
            continue
        if before in (None, ScanFrequency.MANUAL) or state is None or state.reason == MANUAL_REASON:
            _activate(env, uow, pushed, state, window, now, out, to_close)
        elif before is not after:
            _change_frequency(env, uow, pushed, state, after, now, out)
    out.closed = env.writer.close_all(uow, to_close, now) if to_close else 0
    if out.queued or out.expired or out.manual or out.on_push or out.rematched:
        logger.info("scanning configuration applied: %s", out)
    return out


def _activate(
    env: ScanEnvironment,
    uow: UnitOfWork,
    pushed: PushedImage,
    state: ScanState | None,
    window: datetime,
    now: datetime,
    out: ConfigurationApplied,
    to_close: list[tuple[int, str, str]],
) -> None:
    """A newly covered image: scanned at once when pushed within the window, else expired."""
    x = pushed.image
    if pushed.last_pushed_at >= window:
        key = f"activate:{x.repository_id}:{x.digest}:{now.isoformat()}"
        enqueue(uow.jobs, ScanImage(x.repository, x.digest, env.tenant), key, now)
        pending = ScanState(
            x.repository_id, x.digest, "ENHANCED", "ACTIVE", "PENDING_INITIAL_SCAN", None, 0,
            None, None, last_activated_at=now,
        )  # fmt: skip
        record_state(uow, env.tenant, pending, now)
        out.queued += 1
        return
    expired = ScanState(
        x.repository_id, x.digest, "ENHANCED", "INACTIVE", "SCAN_ELIGIBILITY_EXPIRED", None, 0,
        None, None,
    )  # fmt: skip
    record_state(uow, env.tenant, expired, now)
    out.expired += 1
    if state is not None:
        to_close.append((x.repository_id, x.repository, x.digest))


def _change_frequency(
    env: ScanEnvironment,
    uow: UnitOfWork,
    pushed: PushedImage,
    state: ScanState,
    after: ScanFrequency,
    now: datetime,
    out: ConfigurationApplied,
) -> None:
    """CONTINUOUS_SCAN <-> SCAN_ON_PUSH for an image already covered. Pending, expired and
    unscannable images are left as they are (a pending scan writes the reason its
    repository's frequency calls for)."""
    x = pushed.image
    if state.status_code != "ACTIVE":
        return
    if after is ScanFrequency.SCAN_ON_PUSH and state.reason == "SUCCESSFUL":
        record_state(uow, env.tenant, dataclasses.replace(state, reason=ON_PUSH_REASON), now)
        out.on_push += 1
    elif after is ScanFrequency.CONTINUOUS_SCAN and state.reason == ON_PUSH_REASON:
        key = f"monitor:{x.repository_id}:{x.digest}:{now.isoformat()}"
        enqueue(uow.jobs, RematchImage(x.repository, x.digest, env.tenant), key, now)
        moved = dataclasses.replace(state, reason="SCAN_IN_PROGRESS", last_activated_at=now)
        record_state(uow, env.tenant, moved, now)
        out.rematched += 1


def activate(
    env: ScanEnvironment, uow: UnitOfWork, config: RegistryScanningConfiguration, now: datetime
) -> None:
    """BASIC -> ENHANCED: queue scans of recent images; mark older ones expired."""
    apply_configuration(env, uow, RegistryScanningConfiguration(), config, now)


def deactivate(env: ScanEnvironment, uow: UnitOfWork, now: datetime) -> int:
    """Close the enhanced findings, purge them (Inspector: "you lose access to any findings the
    scan type produced"), remove enhanced coverage and move the activation epoch, so that a
    re-activation creates new findings; returns how many findings were closed."""
    images = uow.scans.enhanced_images(env.tenant)
    closed = env.writer.close_all(
        uow, [(x.repository_id, x.repository, x.digest) for x in images], now
    )
    for x in images:
        forget_state(uow, env.tenant, x.repository_id, x.digest, now, "PENDING_DISABLE")
    uow.scans.next_activation_epoch(env.tenant)
    purge_deactivated(uow, env.tenant, now)
    return closed


def expire_pass(env: ScanEnvironment) -> int:
    """Expire images past the re-scan duration; returns how many."""
    config, ecr = env.settings()
    if config.scan_type is not ScanType.ENHANCED:
        return 0
    tenant = env.tenant
    now = env.clock.now()
    expired = 0
    with env.store.write() as uow:
        for pushed in uow.scans.active_pushed_images(tenant):
            x = pushed.image
            if (
                config.frequency_for(x.repository, x.scan_on_push)
                is not ScanFrequency.CONTINUOUS_SCAN
            ):
                continue
            # counted from when monitoring started: a re-push or re-tag does not extend it
            started = pushed.last_activated_at or pushed.last_pushed_at
            if not ecr.expired(started, pushed.last_pulled_at, now):
                continue
            state = uow.scans.get_scan(x.repository_id, x.digest)
            assert state is not None
            record_state(
                uow,
                tenant,
                dataclasses.replace(
                    state, status_code="INACTIVE", reason="SCAN_ELIGIBILITY_EXPIRED"
                ),
                now,
            )
            env.writer.close_all(uow, [(x.repository_id, x.repository, x.digest)], now)
            expired += 1
    return expired


def recatalogue_pass(env: ScanEnvironment) -> int:
    """Queue a re-catalogue of every monitored image whose inventory was made by other
    cataloger versions (a cataloger was bumped or added by an upgrade): the layer cache misses
    only for the changed catalogers, so only the layers they cover are read again, and the
    images are re-matched with what they now find. Images of scan-on-push repositories are
    scanned one time and left as they are. Returns how many were queued."""
    signature = env.catalogers_signature()
    key = hashlib.sha256(signature.encode()).hexdigest()[:16]
    config, _ = env.settings()
    now = env.clock.now()
    queued = 0
    with env.store.write() as uow:
        for x in uow.scans.stale_inventories(env.tenant, signature):
            if (
                config.frequency_for(x.repository, x.scan_on_push)
                is not ScanFrequency.CONTINUOUS_SCAN
            ):
                continue
            job = Recatalogue(x.repository, x.digest, env.tenant)
            if enqueue(uow.jobs, job, f"recatalogue:{key}:{x.repository_id}:{x.digest}", now):
                queued += 1
    if queued:
        logger.info("cataloger versions changed: %d images queued for re-cataloguing", queued)
    return queued
