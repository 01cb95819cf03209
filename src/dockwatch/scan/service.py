"""The scanning service: decide who is scanned, catalogue, match, reconcile findings.

A scan of an image resource (repository, manifest digest) catalogues the image through the
shared layer cache (each layer read once, whatever number of repositories hold it), stores the
inventory and its package keys (the reverse index continuous scanning uses), matches it, and
reconciles the resource's findings, all in one transaction with its scan state and a
`ScanCompleted` event. A re-match after an advisory update takes the stored inventory: no layer
is read. Push and re-match share this one code path; only the trigger differs.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dockwatch.catalog.layers import Budgets
from dockwatch.catalog.service import ImageCataloguer, Inventory
from dockwatch.clock import Clock
from dockwatch.errors import DockwatchError, InvalidInput
from dockwatch.findings.build import SEVERITY_ORDER, build
from dockwatch.findings.service import FindingWriter, Target
from dockwatch.findings.suppression import suppressor_loader
from dockwatch.match.service import MatchIndex, match, reverse_index_rows
from dockwatch.model.distro import Distro
from dockwatch.model.package import OS_PACKAGE_TYPES, Package
from dockwatch.registry.context import RegistryContext
from dockwatch.storage.sql import finding_repo, outbox, vuln_repo
from dockwatch.storage.sql import registry_repo as registry_sql
from dockwatch.storage.sql import scan_repo as sql
from dockwatch.storage.sql.catalog_repo import SqlCatalogCache, dump_result, load_result

from .config import RegistryScanningConfiguration, ScanType, parse_configuration
from .duration import EcrConfiguration, parse_ecr_configuration

logger = logging.getLogger(__name__)

SCAN_COMPLETED = "ScanCompleted"
ACTIVATION_DAYS = 30
"""Images pushed within this many days are scanned when enhanced scanning is turned on."""


class LimitExceeded(DockwatchError):
    """ECR's limit: one basic manual scan per image per 24 hours."""


class ManualScanUnsupported(InvalidInput):
    """Manual scans are a basic-scanning feature; enhanced scanning scans by itself."""


MANUAL_SCAN_INTERVAL = timedelta(hours=24)
MAX_IMAGE_BYTES = 20 * 1024**3
"""Images whose compressed layers add up to more are not scanned (IMAGE_SIZE_EXCEEDED)."""


@dataclass(frozen=True, slots=True)
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
    from dockwatch.image.manifests import IMAGE_CONFIG_TYPES, ImageManifest, parse_manifest

    try:
        parsed = parse_manifest(data, media_type)
    except ValueError:
        return False
    return (
        isinstance(parsed, ImageManifest)
        and parsed.artifact_type is None
        and parsed.config is not None
        and parsed.config.media_type in IMAGE_CONFIG_TYPES
        and parsed.artifact_kind() == "artifact"
    )


class ScanService:
    """Scanning over the registry's stores."""

    def __init__(
        self,
        ctx: RegistryContext,
        cache: SqlCatalogCache,
        index: MatchIndex,
        clock: Clock,
        activation_days: int = ACTIVATION_DAYS,
        max_image_bytes: int = MAX_IMAGE_BYTES,
        budgets: Budgets | None = None,
    ) -> None:
        self.budgets = budgets
        self.activation_days = activation_days
        self.max_image_bytes = max_image_bytes
        from dockwatch.catalog.registry import default_registry

        self.catalogers = default_registry()
        """Built once: loading the entry points costs more than cataloguing a small layer."""
        self.ctx = ctx
        self.cache = cache
        self.index = index
        self.clock = clock
        self.settings_changed = threading.Event()
        """Set when a configuration is saved: the worker runs its periodic passes at once."""
        self.writer = FindingWriter(ctx.tenant, suppressor_loader(ctx.tenant, clock))

    # --- configuration ----------------------------------------------------------------------

    def settings(self) -> tuple[RegistryScanningConfiguration, EcrConfiguration]:
        """The registry scanning configuration and the re-scan duration (defaults if unset)."""
        with self.ctx.db.read() as conn:
            stored = sql.load_settings(conn, self.ctx.tenant)
        if stored is None:
            return RegistryScanningConfiguration(), EcrConfiguration()
        return parse_configuration(stored[0]), parse_ecr_configuration(stored[1])

    def put_scanning_configuration(self, body: dict[str, Any]) -> RegistryScanningConfiguration:
        """Validate and store a new registry scanning configuration; switching between BASIC
        and ENHANCED activates or deactivates enhanced scanning (see `eligibility`)."""
        from .eligibility import activate, deactivate

        config = parse_configuration(body)
        previous, ecr = self.settings()
        now = self.clock.now()
        with self.ctx.db.write() as conn:
            sql.save_settings(conn, self.ctx.tenant, config.to_wire(), ecr.to_wire(), now)
            if (
                previous.scan_type is not ScanType.ENHANCED
                and config.scan_type is ScanType.ENHANCED
            ):
                activate(self, conn, config, now)
            if (
                previous.scan_type is ScanType.ENHANCED
                and config.scan_type is not ScanType.ENHANCED
            ):
                deactivate(self, conn, now)
        return config

    def put_ecr_configuration(self, body: dict[str, Any]) -> EcrConfiguration:
        """Validate and store a new re-scan duration configuration."""
        config, current = self.settings()
        ecr = parse_ecr_configuration(body, current)
        with self.ctx.db.write() as conn:
            sql.save_settings(
                conn, self.ctx.tenant, config.to_wire(), ecr.to_wire(), self.clock.now()
            )
        self.settings_changed.set()  # a shorter duration expires images at once
        return ecr

    def scan(self, repository: str, digest: str, *, rematch: bool = False) -> ScanOutcome:
        """Scan (or, with `rematch`, re-match from the stored inventory) one image resource."""
        from dockwatch.image.errors import ImageError, NotRunnable
        from dockwatch.image.manifests import ImageIndex, parse_manifest
        from dockwatch.image.sources import resolve
        from dockwatch.registry.reader import StoredImageReader

        config, _ = self.settings()
        with self.ctx.db.read() as conn:
            repo = registry_sql.get_repository(conn, self.ctx.tenant, repository)
            row = None if repo is None else registry_sql.get_manifest(conn, repo.id, digest)
            stored_inventory = sql.load_inventory(conn, digest) if rematch else None
        if repo is None or row is None:
            return ScanOutcome(False, "IMAGE_NOT_FOUND")
        scan_type = config.scan_type.value
        if not rematch:
            self._mark_in_progress(repo.id, digest)
        layers_read = 0
        if stored_inventory is not None:
            distro_doc, packages_doc, _ = stored_inventory
            packages = load_result(packages_doc).packages
            distro = (
                None
                if distro_doc is None
                else Distro(**{**distro_doc, "id_like": tuple(distro_doc.get("id_like", ()))})
            )
        else:
            reader = StoredImageReader(self.ctx, repository)
            data, media_type = reader.manifest(digest)
            try:
                if isinstance(parse_manifest(data, media_type), ImageIndex):
                    self._forget(repo.id, digest)
                    return ScanOutcome(False, "INDEX")  # each platform image is scanned on its own
                image = resolve(reader, digest, reference=f"{repository}@{digest}")
            except NotRunnable as exc:
                if _image_with_unknown_layers(data, media_type):
                    return self._not_scanned(repo.id, digest, scan_type, "UNSUPPORTED_MEDIA_TYPE",
                                             f"layer media type not supported: {exc.media_type}")  # fmt: skip
                self._forget(repo.id, digest)  # artifacts are left out of scanning and coverage
                return ScanOutcome(False, "NOT_AN_IMAGE")
            except ImageError as exc:
                return self._not_scanned(repo.id, digest, scan_type, "INTERNAL_ERROR", str(exc))
            size = sum(max(0, layer.size) for layer in image.layers)
            if size > self.max_image_bytes:
                return self._not_scanned(repo.id, digest, scan_type, "IMAGE_SIZE_EXCEEDED",
                                         f"layers add up to {size} bytes, over the limit of "
                                         f"{self.max_image_bytes} (scan_max_image_bytes)")  # fmt: skip
            try:
                inventory: Inventory = ImageCataloguer(
                    self.catalogers, cache=self.cache, budgets=self.budgets, verify_blobs=False
                ).catalog(reader, image)
            except (ImageError, OSError, ValueError) as exc:
                logger.warning("cataloguing %s@%s failed: %s", repository, digest, exc)
                return self._not_scanned(repo.id, digest, scan_type, "INTERNAL_ERROR", str(exc))
            layers_read = sum(1 for layer in inventory.layers if layer.read)
            if inventory.incomplete:  # a partial read is never a clean result
                return self._not_scanned(repo.id, digest, scan_type, "SCAN_INCOMPLETE",
                                         "; ".join(i.describe() for i in inventory.incomplete),
                                         layers_read=layers_read)  # fmt: skip
            packages, distro = inventory.packages, inventory.distro
            if not packages and distro is None and config.scan_type is ScanType.ENHANCED:
                return self._not_scanned(
                    repo.id, digest, scan_type, "NO_RESOURCES_FOUND",
                    "no operating system and no package found in the image",
                    layers_read=layers_read,
                )  # fmt: skip
        now = self.clock.now()
        if config.scan_type is ScanType.BASIC:
            return self._basic(repo.id, packages, distro, digest, now, layers_read)
        report = match(list(packages), distro, self.index, today=now.date())
        with self.ctx.db.read() as conn:
            contents = {
                (m.source, m.advisory_id): vuln_repo.advisory_content(conn, m.source, m.advisory_id)
                or {}
                for m in report.matches
            }
        drafts = build(report.matches, contents, {})
        with self.ctx.db.read() as conn:
            enrichment = vuln_repo.enrichment_for(conn, list(drafts))
        if enrichment:
            drafts = build(report.matches, contents, enrichment)
        keyed, package_docs = reverse_index_rows(packages, report.os_ecosystem)
        with self.ctx.db.write() as conn:
            if self._config_moved(conn, config):
                # enhanced scanning was turned off (or on) while this scan ran: its result
                # belongs to a configuration no longer in force, so it is dropped
                return ScanOutcome(False, "CONFIGURATION_CHANGED", layers_read=layers_read)
            from dockwatch.catalog.cataloger import CatalogResult

            sql.store_inventory(
                conn,
                digest,
                None if distro is None else dataclasses.asdict(distro),
                packages_doc
                if stored_inventory is not None
                else dump_result(CatalogResult(tuple(packages))),
                stored_inventory[2]
                if stored_inventory is not None
                else self.catalogers_signature(),
                keyed,
                package_docs,
                now,
            )
            applied = self.writer.apply(conn, [Target(repo.id, repository, digest, drafts)], now)
            opened, closed, reopened = applied.per_resource[(repo.id, digest)]
            current = vuln_repo.current_version(conn)
            if current != report.db_version:
                # advisories changed while this image was matched: the delta's rescan may have
                # run before this image had findings to re-evaluate, so match it once more
                from .jobs import enqueue

                enqueue(conn, "rematch", f"rematch:{repo.id}:{digest}:{current}",
                        {"repository": repository, "digest": digest}, now)  # fmt: skip
            outcome = ScanOutcome(True, "SUCCESSFUL", opened, closed, reopened)
            reason = "UNSUPPORTED_OS" if report.unsupported_os else "SUCCESSFUL"
            done = self.clock.now()  # lastScannedAt and the event: when the results are written
            sql.put_scan(
                conn,
                self.ctx.tenant,
                sql.ScanState(
                    repo.id,
                    digest,
                    scan_type,
                    "INACTIVE" if report.unsupported_os else "ACTIVE",
                    reason,
                    done,
                    report.db_version,
                    report.os_ecosystem,
                    report.unsupported_os,
                ),  # fmt: skip
                done,
            )
            counts = self._severity_counts(conn, repo.id, digest)
            outbox.append(
                conn,
                account_id=self.ctx.tenant.account_id,
                region=self.ctx.tenant.region,
                event_type=SCAN_COMPLETED,
                subject=repository,
                payload={
                    "repositoryName": repository,
                    "imageDigest": digest,
                    "imageTags": registry_sql.tags_of(conn, repo.id, digest),
                    "trigger": "rematch" if rematch else "scan",
                    "findingSeverityCounts": counts,
                    "dbVersion": report.db_version,
                    "layersRead": layers_read,
                },
                at=done,
            )
        return dataclasses.replace(outcome, layers_read=layers_read)

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
        report = match(os_packages, distro, self.index, today=now.date())
        with self.ctx.db.read() as conn:
            contents = {
                (m.source, m.advisory_id): vuln_repo.advisory_content(conn, m.source, m.advisory_id)
                or {}
                for m in report.matches
            }
        findings: list[dict[str, Any]] = []
        for vuln, draft in sorted(build(report.matches, contents, {}).items()):
            details = draft.detail["packageVulnerabilityDetails"]
            for p in details["vulnerablePackages"]:
                attributes = [
                    {"key": "package_name", "value": p["name"]},
                    {"key": "package_version", "value": p["version"]},
                ]
                attributes += [
                    {"key": f"CVSS{c['version'][0]}_VECTOR", "value": c["scoringVector"]}
                    for c in details["cvss"][:1]
                ]
                findings.append(
                    {
                        "name": vuln,
                        "description": draft.detail["description"],
                        "uri": details["sourceUrl"],
                        "severity": "UNDEFINED"
                        if draft.severity == "UNTRIAGED"
                        else draft.severity,
                        "attributes": attributes,
                    }
                )
        with self.ctx.db.write() as conn:
            reason = "UNSUPPORTED_OS" if report.unsupported_os else "SUCCESSFUL"
            state = sql.ScanState(
                repo_id,
                digest,
                "BASIC",
                "COMPLETE",
                reason,
                now,
                report.db_version,
                report.os_ecosystem,
                report.unsupported_os,
            )
            sql.put_scan(conn, self.ctx.tenant, state, now)
            sql.set_basic_result(conn, repo_id, digest, findings, None)
        return ScanOutcome(True, reason, layers_read=layers_read)

    def request_manual_scan(self, repository: str, reference: str) -> str:
        """Queue a basic scan of one image (at most once per 24 hours); returns its digest."""
        from dockwatch.registry.manifests import Manifests

        from .jobs import enqueue

        config, _ = self.settings()
        if config.scan_type is ScanType.ENHANCED:
            raise ManualScanUnsupported("manual scans are not supported with enhanced scanning")
        repo, row = Manifests(self.ctx).resolve(repository, reference)
        now = self.clock.now()
        with self.ctx.db.write() as conn:
            _, last = sql.basic_result(conn, repo.id, row.digest)
            if last is not None and now - last < MANUAL_SCAN_INTERVAL:
                raise LimitExceeded(
                    f"{repository}@{row.digest} was scanned manually at {last.isoformat()}; "
                    "a basic scan can be started once per 24 hours per image"
                )
            if sql.get_scan(conn, repo.id, row.digest) is None:
                state = sql.ScanState(
                    repo.id,
                    row.digest,
                    "BASIC",
                    "IN_PROGRESS",
                    "SCAN_IN_PROGRESS",
                    None,
                    0,
                    None,
                    None,
                )
                sql.put_scan(conn, self.ctx.tenant, state, now)
            sql.set_basic_result(conn, repo.id, row.digest, None, now)
            enqueue(
                conn,
                "scan",
                f"manual:{repo.id}:{row.digest}:{now.isoformat()}",
                {"repository": repository, "digest": row.digest},
                now,
            )
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
        with self.ctx.db.write() as conn:
            name = registry_sql.repository_name(conn, repo_id)
            state = sql.ScanState(repo_id, digest, scan_type, code, reason, now, 0, None, detail)
            sql.put_scan(conn, self.ctx.tenant, state, now)
            if scan_type == "ENHANCED":
                self.writer.close_all(conn, [(repo_id, name, digest)], now)
        return ScanOutcome(False, reason, layers_read=layers_read)

    def _forget(self, repo_id: int, digest: str) -> None:
        with self.ctx.db.write() as conn:
            sql.delete_scan(conn, repo_id, digest)

    def _mark_in_progress(self, repo_id: int, digest: str) -> None:
        """A new image's scan has started: PENDING_INITIAL_SCAN -> SCAN_IN_PROGRESS."""
        with self.ctx.db.write() as conn:
            state = sql.get_scan(conn, repo_id, digest)
            if state is not None and state.reason == "PENDING_INITIAL_SCAN":
                sql.put_scan(
                    conn,
                    self.ctx.tenant,
                    dataclasses.replace(state, reason="SCAN_IN_PROGRESS"),
                    self.clock.now(),
                )

    def _config_moved(self, conn: Any, used: RegistryScanningConfiguration) -> bool:
        stored = sql.load_settings(conn, self.ctx.tenant)
        current = (
            RegistryScanningConfiguration() if stored is None else parse_configuration(stored[0])
        )
        return current.scan_type is not used.scan_type

    def _severity_counts(self, conn: Any, repo_id: int, digest: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in finding_repo.stored_of(conn, [(repo_id, digest)]):
            if f.status == "ACTIVE":
                counts[f.severity] = counts.get(f.severity, 0) + 1
        return {s: counts[s] for s in SEVERITY_ORDER if s in counts}

    def close_image(self, repository: str, digest: str, reason: str) -> None:
        """Close every open finding of an image resource and drop its coverage (deleted image)."""
        now = self.clock.now()
        with self.ctx.db.write() as conn:
            repo = registry_sql.get_repository(conn, self.ctx.tenant, repository)
            if repo is None:
                return
            self.writer.close_all(conn, [(repo.id, repository, digest)], now)
            sql.delete_scan(conn, repo.id, digest)
            sql.forget_inventory_if_unused(conn, digest)
