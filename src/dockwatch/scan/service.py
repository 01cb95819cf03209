"""The scanning service: decide who is scanned, catalogue, match, reconcile findings.

A scan of an image resource (repository, manifest digest) catalogues the image through the
shared layer cache (each layer read once, whatever number of repositories hold it), stores the
inventory and its package keys (the reverse index continuous scanning uses), matches it, and
reconciles the resource's findings, all in one transaction with its scan state and a
`ScanCompleted` event. A re-match after an advisory update takes the stored inventory: no layer
is read. Push, re-match and `dockwatch scan` share `pipeline.py`; only the trigger differs.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from dockwatch.catalog.layers import Budgets
from dockwatch.catalog.registry import CatalogerRegistry, default_registry
from dockwatch.catalog.service import CatalogCache, ImageCataloguer
from dockwatch.clock import Clock
from dockwatch.errors import DockwatchError, InvalidInput
from dockwatch.findings.build import SEVERITY_ORDER
from dockwatch.findings.service import FindingWriter, Target
from dockwatch.findings.suppression import suppressor_loader
from dockwatch.image.errors import IMAGE_READ_ERRORS, NotRunnable
from dockwatch.image.sources import resolve
from dockwatch.match.service import MatchIndex, reverse_index_rows
from dockwatch.model.distro import Distro
from dockwatch.model.events import ScanCompleted
from dockwatch.model.identity import Tenant
from dockwatch.model.oci import IMAGE_CONFIG_TYPES, ImageIndex, ImageManifest, parse_manifest
from dockwatch.model.package import OS_PACKAGE_TYPES, Package
from dockwatch.registry.context import RegistryContext
from dockwatch.registry.manifests import Manifests
from dockwatch.registry.reader import StoredImageReader
from dockwatch.storage.catalog_repo import StoredInventory
from dockwatch.storage.scan_repo import ScanState
from dockwatch.storage.unit_of_work import Store, UnitOfWork
from dockwatch.value_class import frozen

from .basic import basic_findings
from .config import RegistryScanningConfiguration, ScanFrequency, ScanType, parse_configuration
from .config_diff import append_frequency_events
from .coverage_state import forget_state, is_initial_scan, record_state
from .duration import EcrConfiguration, parse_ecr_configuration
from .eligibility import ON_PUSH_REASON, ConfigurationApplied, apply_configuration
from .jobs import RematchImage, ScanImage, enqueue
from .pipeline import catalogue, evaluate
from .scan_events import basic_scan_completed

logger = logging.getLogger(__name__)

ACTIVATION_DAYS = 30
"""Images pushed within this many days are scanned when enhanced scanning is turned on."""


class LimitExceeded(DockwatchError):
    """ECR's limit: one basic manual scan per image per 24 hours."""


class ManualScanUnsupported(InvalidInput):
    """Manual scans are a basic-scanning feature; enhanced scanning scans by itself."""


MANUAL_SCAN_INTERVAL = timedelta(hours=24)
MAX_IMAGE_BYTES = 20 * 1024**3
"""Images whose compressed layers add up to more are not scanned (IMAGE_SIZE_EXCEEDED)."""


@frozen
class ScanOutcome:
    """What one scan did."""

    scanned: bool
    reason: str
    opened: int = 0
    closed: int = 0
    reopened: int = 0
    layers_read: int = 0


def _image_with_unknown_layers(data: bytes, media_type: str | None) -> bool:
    """An image manifest (image config) whose layers have a media type no runtime unpacks, as
    opposed to an artifact (signature, SBOM, chart): the former reports UNSUPPORTED_MEDIA_TYPE."""
    try:
        parsed = parse_manifest(data, media_type, strict=False)
    except ValueError:
        return False
    return (
        isinstance(parsed, ImageManifest)
        and parsed.declared_artifact_type is None
        and parsed.config is not None
        and parsed.config.media_type in IMAGE_CONFIG_TYPES
        and parsed.artifact_kind() == "artifact"
    )


def _enhanced_status(
    unsupported_os: str | None, packages: Sequence[Package], frequency: ScanFrequency
) -> tuple[str, str]:
    """(statusCode, reason) of an image after an enhanced scan. An unsupported OS leaves the
    image INACTIVE / UNSUPPORTED_OS only when it has no language package to monitor: one with
    language packages stays ACTIVE and is rescanned for them (the OS is named in the state).
    A scan-on-push repository's image keeps its findings but is not rescanned (Inspector:
    "will be scanned one time")."""
    if unsupported_os and all(p.type in OS_PACKAGE_TYPES for p in packages):
        return "INACTIVE", "UNSUPPORTED_OS"
    if frequency is ScanFrequency.SCAN_ON_PUSH:
        return "ACTIVE", ON_PUSH_REASON
    return "ACTIVE", "SUCCESSFUL"


class ScanService:
    """Scanning over the registry's stores."""

    def __init__(
        self,
        ctx: RegistryContext,
        store: Store,
        cache: CatalogCache,
        index: MatchIndex,
        clock: Clock,
        activation_days: int = ACTIVATION_DAYS,
        max_image_bytes: int = MAX_IMAGE_BYTES,
        catalogers: CatalogerRegistry | None = None,
        budgets: Budgets | None = None,
    ) -> None:
        self.budgets = budgets
        self.activation_days = activation_days
        self.max_image_bytes = max_image_bytes
        self._catalogers = catalogers
        self.ctx = ctx
        self.store = store
        self.cache = cache
        self.index = index
        self.clock = clock
        self.settings_changed = threading.Event()
        """Set when a configuration is saved: the worker runs its periodic passes at once."""
        self.writer = FindingWriter(ctx.tenant, suppressor_loader(ctx.tenant, clock))

    @property
    def tenant(self) -> Tenant:
        """Whose images this service scans."""
        return self.ctx.tenant

    @property
    def catalogers(self) -> CatalogerRegistry:
        """The cataloguers, built once: loading the entry points costs more than cataloguing a
        small layer. Built on first use rather than with the service (the worker builds them
        with the advisory index, before it says it is ready): importing the cataloguers'
        modules was 40 ms of every server's start before its first answer."""
        if self._catalogers is None:
            self._catalogers = default_registry()
        return self._catalogers

    @catalogers.setter
    def catalogers(self, registry: CatalogerRegistry) -> None:
        self._catalogers = registry

    # --- configuration ----------------------------------------------------------------------

    def settings(self) -> tuple[RegistryScanningConfiguration, EcrConfiguration]:
        """The registry scanning configuration and the re-scan duration (defaults if unset)."""
        with self.store.read() as uow:
            return self._settings(uow)

    def _settings(self, uow: UnitOfWork) -> tuple[RegistryScanningConfiguration, EcrConfiguration]:
        stored = uow.scans.settings(self.tenant)
        if stored is None:
            return RegistryScanningConfiguration(), EcrConfiguration()
        return (
            parse_configuration(stored.scanning_configuration),
            parse_ecr_configuration(stored.ecr_configuration),
        )

    def put_scanning_configuration(self, body: dict[str, Any]) -> RegistryScanningConfiguration:
        """Validate and store a new registry scanning configuration, and act on the images
        already stored wherever a repository's scan frequency changes (activation,
        deactivation, rules added or removed: see `eligibility.apply_configuration`)."""
        config = parse_configuration(body)
        now = self.clock.now()
        with self.store.write() as uow:
            previous, ecr = self._settings(uow)
            uow.scans.save_settings(self.tenant, config.to_wire(), ecr.to_wire(), now)
            append_frequency_events(uow, self.tenant, previous, config, now)
            apply_configuration(self, uow, previous, config, now)
        self.settings_changed.set()
        return config

    def put_ecr_configuration(self, body: dict[str, Any]) -> EcrConfiguration:
        """Validate and store a new re-scan duration configuration."""
        config, current = self.settings()
        ecr = parse_ecr_configuration(body, current)
        with self.store.write() as uow:
            uow.scans.save_settings(self.tenant, config.to_wire(), ecr.to_wire(), self.clock.now())
        self.settings_changed.set()  # a shorter duration expires images at once
        return ecr

    def preview(self, proposed: RegistryScanningConfiguration) -> list[dict[str, Any]]:
        """Which repositories `proposed` would scan, and how; nothing is saved."""
        with self.store.read() as uow:
            repos = uow.registry.repository_rows(self.tenant)
        return proposed.preview((r.name, r.scan_on_push) for r in repos)

    def set_scan_on_push(self, repository: str, flag: bool) -> ConfigurationApplied:
        """ECR's legacy per-repository scan-on-push flag; the repository's images are brought
        in line when its frequency changes (under ENHANCED the rules decide, so it does not;
        under BASIC the flag applies to the next pushes)."""
        repo = self.ctx.repository(repository)
        with self.store.write() as uow:
            config, _ = self._settings(uow)
            append_frequency_events(
                uow, self.tenant, config, config, self.clock.now(), {repo.name: flag}
            )
            uow.registry.set_repository_settings(repo.id, scan_on_push=flag)
            return apply_configuration(
                self, uow, config, config, self.clock.now(),
                repository=repo.name, flags_before={repo.name: repo.scan_on_push},
            )  # fmt: skip

    # --- scanning ---------------------------------------------------------------------------

    def scan(self, repository: str, digest: str, *, rematch: bool = False) -> ScanOutcome:
        """Scan (or, with `rematch`, re-match from the stored inventory) one image resource."""
        config, _ = self.settings()
        with self.store.read() as uow:
            repo = uow.registry.get_repository(self.tenant, repository)
            row = None if repo is None else uow.registry.get_manifest(repo.id, digest)
            stored = uow.catalog.inventory(digest) if rematch else None
        if repo is None or row is None:
            return ScanOutcome(False, "IMAGE_NOT_FOUND")
        frequency = config.frequency_for(repository, repo.scan_on_push)
        if config.scan_type is ScanType.ENHANCED and frequency is ScanFrequency.MANUAL:
            # queued before its repository left every rule: not scanned (SCAN_FREQUENCY_MANUAL)
            return ScanOutcome(False, "SCAN_FREQUENCY_MANUAL")
        if not rematch:
            self._mark_in_progress(repo.id, digest)
        if stored is None:
            got = self._catalogue(repo.id, repository, digest, config)
            if isinstance(got, ScanOutcome):
                return got
            stored, layers_read = got
        else:
            layers_read = 0
        now = self.clock.now()
        if config.scan_type is ScanType.BASIC:
            return self._basic(repo.id, stored.packages, stored.distro, digest, now, layers_read)
        evaluation = evaluate(
            stored.packages, stored.distro, self.index, self.store, today=now.date()
        )
        report = evaluation.report
        keyed, package_docs = reverse_index_rows(stored.packages, report.os_ecosystem)
        with self.store.write() as uow:
            in_force = self._settings(uow)[0]
            frequency = in_force.frequency_for(repository, repo.scan_on_push)
            if in_force.scan_type is not config.scan_type or frequency is ScanFrequency.MANUAL:
                # enhanced scanning was turned off (or on), or the repository left every rule,
                # while this scan ran: its result belongs to a configuration no longer in
                # force, so it is dropped
                return ScanOutcome(False, "CONFIGURATION_CHANGED", layers_read=layers_read)
            uow.catalog.store_inventory(digest, stored, keyed, package_docs, now)
            epoch = uow.scans.activation_epoch(self.tenant)
            target = Target(repo.id, repository, digest, evaluation.drafts, epoch=epoch)
            applied = self.writer.apply(uow, [target], now)
            opened, closed, reopened = applied.per_resource[(repo.id, digest)]
            current = uow.vulns.current_version()
            if current != report.db_version:
                # advisories changed while this image was matched: the delta's rescan may have
                # run before this image had findings to re-evaluate, so match it once more
                key = f"rematch:{repo.id}:{digest}:{current}"
                enqueue(uow.jobs, RematchImage(repository, digest, self.tenant), key, now)
            code, reason = _enhanced_status(report.unsupported_os, stored.packages, frequency)
            done = self.clock.now()  # lastScannedAt and the event: when the results are written
            state = ScanState(
                repo.id, digest, config.scan_type.value, code, reason, done,
                report.db_version, report.os_ecosystem, report.unsupported_os,
            )  # fmt: skip
            previous = record_state(uow, self.tenant, state, done)
            counts = self._severity_counts(uow, repo.id, digest)
            uow.outbox.append(
                ScanCompleted(
                    self.tenant,
                    done,
                    repository_name=repository,
                    image_digest=digest,
                    image_tags=tuple(uow.registry.tags_of(repo.id, digest)),
                    trigger="rematch" if rematch else "scan",
                    finding_severity_counts=counts,
                    db_version=report.db_version,
                    layers_read=layers_read,
                    rescan=not is_initial_scan(previous),
                )
            )
        return ScanOutcome(True, "SUCCESSFUL", opened, closed, reopened, layers_read)

    def _catalogue(
        self, repo_id: int, repository: str, digest: str, config: RegistryScanningConfiguration
    ) -> tuple[StoredInventory, int] | ScanOutcome:
        """The image's inventory and the number of layers read, or why it is not scanned."""
        scan_type = config.scan_type.value
        reader = StoredImageReader(self.ctx, repository)
        data, media_type = reader.manifest(digest)
        try:
            if isinstance(parse_manifest(data, media_type, strict=False), ImageIndex):
                self._forget(repo_id, digest)
                return ScanOutcome(False, "INDEX")  # each platform image is scanned on its own
            image = resolve(reader, digest, reference=f"{repository}@{digest}")
        except NotRunnable as exc:
            if _image_with_unknown_layers(data, media_type):
                return self._not_scanned(repo_id, digest, scan_type, "UNSUPPORTED_MEDIA_TYPE",
                                         f"layer media type not supported: {exc.media_type}")  # fmt: skip
            self._forget(repo_id, digest)  # artifacts are left out of scanning and coverage
            return ScanOutcome(False, "NOT_AN_IMAGE")
        except IMAGE_READ_ERRORS as exc:
            return self._not_scanned(repo_id, digest, scan_type, "INTERNAL_ERROR", str(exc))
        size = sum(max(0, layer.size) for layer in image.layers)
        if size > self.max_image_bytes:
            return self._not_scanned(repo_id, digest, scan_type, "IMAGE_SIZE_EXCEEDED",
                                     f"layers add up to {size} bytes, over the limit of "
                                     f"{self.max_image_bytes} (scan_max_image_bytes)")  # fmt: skip
        # The blobs were verified against their digests on upload, and a scan reports no
        # diff_id mismatch (the inventory's warnings are not kept): hashing each tar again
        # would cost a third of reading a new layer (debian-go's 131 MB: ~100 ms of CPU).
        cataloguer = ImageCataloguer(
            self.catalogers, cache=self.cache, budgets=self.budgets, diff_ids=False,
            verify_blobs=False,
        )  # fmt: skip
        try:
            inventory = catalogue(cataloguer, reader, image)
        except IMAGE_READ_ERRORS + (OSError, ValueError) as exc:
            logger.warning("cataloguing %s@%s failed: %s", repository, digest, exc)
            return self._not_scanned(repo_id, digest, scan_type, "INTERNAL_ERROR", str(exc))
        layers_read = sum(1 for layer in inventory.layers if layer.read)
        if inventory.incomplete:  # a partial read is never a clean result
            return self._not_scanned(repo_id, digest, scan_type, "SCAN_INCOMPLETE",
                                     "; ".join(i.describe() for i in inventory.incomplete),
                                     layers_read=layers_read)  # fmt: skip
        if not inventory.packages and inventory.distro is None and scan_type == "ENHANCED":
            return self._not_scanned(
                repo_id, digest, scan_type, "NO_RESOURCES_FOUND",
                "no operating system and no package found in the image",
                layers_read=layers_read,
            )  # fmt: skip
        stored = StoredInventory(inventory.distro, inventory.packages, self.catalogers_signature())
        return stored, layers_read

    def _basic(
        self,
        repo_id: int,
        packages: Sequence[Package],
        distro: Distro | None,
        digest: str,
        now: datetime,
        layers_read: int,
    ) -> ScanOutcome:
        """ECR basic scanning: OS packages only, findings in the basic shape, no lifecycle and
        no events."""
        os_packages = [p for p in packages if p.type in OS_PACKAGE_TYPES]
        evaluation = evaluate(
            os_packages, distro, self.index, self.store, today=now.date(), enrich=False
        )
        report = evaluation.report
        findings = basic_findings(evaluation.drafts)
        reason = "UNSUPPORTED_OS" if report.unsupported_os else "SUCCESSFUL"
        with self.store.write() as uow:
            state = ScanState(
                repo_id, digest, "BASIC", "COMPLETE", reason, now, report.db_version,
                report.os_ecosystem, report.unsupported_os,
            )  # fmt: skip
            record_state(uow, self.tenant, state, now)
            uow.scans.set_basic_result(repo_id, digest, findings, None)
            uow.outbox.append(
                basic_scan_completed(uow, self.tenant, repo_id, digest, "COMPLETE", findings, now)
            )
        return ScanOutcome(True, reason, layers_read=layers_read)

    def request_manual_scan(self, repository: str, reference: str) -> str:
        """Queue a basic scan of one image (at most once per 24 hours); returns its digest."""
        config, _ = self.settings()
        if config.scan_type is ScanType.ENHANCED:
            raise ManualScanUnsupported("manual scans are not supported with enhanced scanning")
        repo, row = Manifests(self.ctx).resolve(repository, reference)
        now = self.clock.now()
        with self.store.write() as uow:
            _, last = uow.scans.basic_result(repo.id, row.digest)
            if last is not None and now - last < MANUAL_SCAN_INTERVAL:
                raise LimitExceeded(
                    f"{repository}@{row.digest} was scanned manually at {last.isoformat()}; "
                    "a basic scan can be started once per 24 hours per image"
                )
            if uow.scans.get_scan(repo.id, row.digest) is None:
                state = ScanState(
                    repo.id, row.digest, "BASIC", "IN_PROGRESS", "SCAN_IN_PROGRESS",
                    None, 0, None, None,
                )  # fmt: skip
                record_state(uow, self.tenant, state, now)
            uow.scans.set_basic_result(repo.id, row.digest, None, now)
            key = f"manual:{repo.id}:{row.digest}:{now.isoformat()}"
            enqueue(uow.jobs, ScanImage(repository, row.digest, self.tenant), key, now)
        return row.digest

    def catalogers_signature(self) -> str:
        """Names and versions of the catalogers in use, as stored with each inventory: an
        inventory made with another signature is re-catalogued (see `recatalogue_pass`)."""
        return ",".join(sorted(f"{c.name}@{c.version}" for c in self.catalogers))

    def _not_scanned(
        self, repo_id: int, digest: str, scan_type: str, reason: str, detail: str,
        layers_read: int = 0,
    ) -> ScanOutcome:  # fmt: skip
        """An image that cannot be scanned: INACTIVE with the reason (enhanced) or a failed
        basic scan; its earlier findings, if any, are closed (nothing vouches for them now)."""
        now = self.clock.now()
        code = "INACTIVE" if scan_type == "ENHANCED" else "FAILED"
        with self.store.write() as uow:
            name = uow.registry.repository_name(repo_id)
            state = ScanState(repo_id, digest, scan_type, code, reason, now, 0, None, detail)
            record_state(uow, self.tenant, state, now)
            if scan_type == "ENHANCED":
                self.writer.close_all(uow, [(repo_id, name, digest)], now)
            else:
                uow.outbox.append(
                    basic_scan_completed(uow, self.tenant, repo_id, digest, "FAILED", [], now)
                )
        return ScanOutcome(False, reason, layers_read=layers_read)

    def _forget(self, repo_id: int, digest: str) -> None:
        with self.store.write() as uow:
            forget_state(
                uow, self.tenant, repo_id, digest, self.clock.now(), "UNSUPPORTED_MEDIA_TYPE"
            )

    def _mark_in_progress(self, repo_id: int, digest: str) -> None:
        """A new image's scan has started: PENDING_INITIAL_SCAN -> SCAN_IN_PROGRESS."""
        with self.store.write() as uow:
            state = uow.scans.get_scan(repo_id, digest)
            if state is not None and state.reason == "PENDING_INITIAL_SCAN":
                moved = dataclasses.replace(state, reason="SCAN_IN_PROGRESS")
                record_state(uow, self.tenant, moved, self.clock.now())

    def _severity_counts(self, uow: UnitOfWork, repo_id: int, digest: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in uow.findings.stored_of([(repo_id, digest)]):
            if f.status == "ACTIVE":
                counts[f.severity] = counts.get(f.severity, 0) + 1
        return {s: counts[s] for s in SEVERITY_ORDER if s in counts}

    def close_image(self, repository: str, digest: str) -> None:
        """Close every open finding of an image resource and drop its coverage (deleted image)."""
        now = self.clock.now()
        with self.store.write() as uow:
            repo = uow.registry.get_repository(self.tenant, repository)
            if repo is None:
                return
            self.writer.close_all(uow, [(repo.id, repository, digest)], now)
            forget_state(uow, self.tenant, repo.id, digest, now, "RESOURCE_TERMINATED")
            uow.catalog.forget_inventory_if_unused(digest)
