"""The storage interface for scanning configuration, per-image scan state and coverage.

An image resource is (repository, manifest digest); its scan state is one row per resource.
The scanning configuration is stored as its wire documents (ECR's registry scanning
configuration and Inspector's ecrConfiguration), parsed by `scan/config.py`.

Services depend on this protocol only; `storage/sql/scan_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from dockwatch.model.coverage_criteria import CoverageCriteria, GroupKey
from dockwatch.model.identity import Tenant
from dockwatch.value_class import frozen


@frozen
class StoredSettings:
    """The scanning configuration documents as stored."""

    scanning_configuration: dict[str, Any]
    ecr_configuration: dict[str, Any]


@frozen
class ScanState:
    """An image resource's scan status."""

    repository_id: int
    digest: str
    scan_type: str
    """`BASIC` or `ENHANCED`."""
    status_code: str
    """`ACTIVE`, `INACTIVE`, `IN_PROGRESS`, `COMPLETE`, `FAILED`."""
    reason: str
    """Inspector's scanStatus reason (`SUCCESSFUL`, `PENDING_INITIAL_SCAN`, ...)."""
    last_scanned_at: datetime | None
    db_version: int
    """The advisory database version the findings were matched against."""
    os_ecosystem: str | None
    """The feed ecosystem of the image's distribution release, when supported."""
    unsupported_os: str | None
    """Why OS packages were not matched (or why the scan failed), when so."""
    last_activated_at: datetime | None = None
    """When monitoring of the image last started (its first push while monitored, an
    activation, a push after expiry): the re-scan duration counts from it. None in a state
    being stored keeps the stored value, so only the places that start monitoring move it."""


@frozen
class ScannedImage:
    """An image resource with its repository's name and scan-on-push flag."""

    repository_id: int
    repository: str
    scan_on_push: bool
    digest: str


@frozen
class PushedImage:
    """An image of the registry with its push and pull times (activation and expiry)."""

    image: ScannedImage
    last_pushed_at: datetime
    last_pulled_at: datetime | None
    media_type: str = ""
    """The manifest's media type (indexes never get image coverage)."""
    artifact_type: str | None = None
    """The manifest's artifact type (artifacts never get image coverage)."""
    last_activated_at: datetime | None = None
    """When monitoring last started (`active_pushed_images`: its first push when never set)."""


@frozen
class MonitoredImage:
    """An ACTIVE enhanced image resource, with its distribution release."""

    image: ScannedImage
    os_ecosystem: str | None


@frozen
class CoverageQuery:
    """Filters of Inspector ListCoverage over enhanced scan states, plus keyset paging."""

    repository: str | None = None
    status_code: str | None = None
    reason: str | None = None
    scanned_from: datetime | None = None
    scanned_to: datetime | None = None
    after: tuple[str, str] | None = None
    """(repository name, digest) the page starts after."""
    limit: int = 200


@frozen
class CoveredImage:
    """One covered image resource."""

    image: ScannedImage
    status_code: str
    reason: str
    last_scanned_at: datetime | None
    image_pushed_at: datetime
    last_pulled_at: datetime | None
    last_activated_at: datetime | None = None
    """When monitoring of the image last started (see `ScanState.last_activated_at`)."""


@frozen
class FrequencyRule:
    """Repositories whose name matches one of `globs` get `frequency`."""

    frequency: str
    globs: tuple[str, ...]
    """Whole-name patterns in which `*` stands for any run of characters."""


@frozen
class CoverageScope:
    """What coverage covers under the registry's scanning configuration."""

    rules: tuple[FrequencyRule, ...] = ()
    """In precedence order: the first rule matching a repository gives its frequency."""
    default_frequency: str = "MANUAL"
    repositories: bool = False
    """Whether repositories are covered resources too (enhanced scanning is on)."""


@frozen
class CoverageSelection:
    """Covered resources meeting `criteria`, by (repository, digest) after `after`."""

    criteria: CoverageCriteria
    scope: CoverageScope
    after: tuple[str, str] | None = None
    """(repository name, digest) the page starts after; a repository's digest is ''."""
    limit: int = 200


@frozen
class CoveredResource:
    """One covered resource: an image (`digest` set) or a repository (`digest` '')."""

    resource_type: str
    repository_id: int
    repository: str
    digest: str
    status_code: str
    reason: str
    frequency: str
    """The repository's scan frequency."""
    last_scanned_at: datetime | None
    last_pulled_at: datetime | None


class ScanRepo(Protocol):
    """Scanning configuration, per-image scan state and coverage."""

    def settings(self, tenant: Tenant) -> StoredSettings | None:
        """The stored configuration, or None for the defaults."""
        ...

    def save_settings(
        self, tenant: Tenant, scanning: dict[str, Any], ecr: dict[str, Any], at: datetime
    ) -> None:
        """Store both configuration documents."""
        ...

    def get_scan(self, repository_id: int, digest: str) -> ScanState | None:
        """The scan state of one image resource."""
        ...

    def put_scan(self, tenant: Tenant, state: ScanState, at: datetime) -> None:
        """Create or replace an image resource's scan state."""
        ...

    def enhanced_states(self, tenant: Tenant) -> dict[tuple[int, str], ScanState]:
        """Every enhanced scan state of the tenant by (repository id, digest) (configuration
        changes compare them with what the new configuration calls for)."""
        ...

    def activation_epoch(self, tenant: Tenant) -> int:
        """How many times enhanced scanning was turned off (0 when never, or no settings)."""
        ...

    def next_activation_epoch(self, tenant: Tenant) -> int:
        """Count one more deactivation (the settings row must exist); returns the new epoch."""
        ...

    def delete_scan(self, repository_id: int, digest: str) -> None:
        """Forget an image resource's scan state (its coverage)."""
        ...

    def touch_scanned(
        self, resources: Sequence[tuple[int, str]], at: datetime, db_version: int
    ) -> None:
        """Move lastScannedAt and the database version of re-evaluated image resources."""
        ...

    def set_basic_result(
        self,
        repository_id: int,
        digest: str,
        findings: list[dict[str, Any]] | None,
        manual_at: datetime | None,
    ) -> None:
        """Store a basic scan's findings (ECR's basic shape) and/or when a manual scan was
        asked (None leaves a value as it is)."""
        ...

    def basic_result(
        self, repository_id: int, digest: str
    ) -> tuple[list[dict[str, Any]] | None, datetime | None]:
        """(basic findings, last manual scan time) of an image resource."""
        ...

    def pushed_images(self, tenant: Tenant) -> list[PushedImage]:
        """Every image of the tenant's repositories with its push times (activation)."""
        ...

    def enhanced_images(self, tenant: Tenant) -> list[ScannedImage]:
        """Image resources with an enhanced scan state (deactivation)."""
        ...

    def active_pushed_images(self, tenant: Tenant) -> list[PushedImage]:
        """Image resources whose scan state is ACTIVE, with push times (expiry)."""
        ...

    def monitored_images(self, tenant: Tenant) -> list[MonitoredImage]:
        """ACTIVE enhanced image resources (the ones a delta may re-evaluate)."""
        ...

    def stale_inventories(self, tenant: Tenant, catalogers: str) -> list[ScannedImage]:
        """ACTIVE enhanced image resources whose inventory was made by other catalogers."""
        ...

    def coverage(self, tenant: Tenant, query: CoverageQuery) -> list[CoveredImage]:
        """Covered (enhanced) image resources by (repository, digest), at most `limit` + 1
        (the extra one tells the caller another page exists)."""
        ...

    def covered_resources(
        self, tenant: Tenant, selection: CoverageSelection
    ) -> list[CoveredResource]:
        """Covered images and repositories meeting the criteria, by (repository, digest), at
        most `limit` + 1 (the extra one tells the caller another page exists)."""
        ...

    def coverage_counts(
        self,
        tenant: Tenant,
        criteria: CoverageCriteria,
        scope: CoverageScope,
        group: GroupKey | None,
    ) -> tuple[int, list[tuple[str, int]]]:
        """(resources meeting the criteria, [(group value, count)] when `group` is given)."""
        ...

    def scan_states_of(self, repository_id: int) -> dict[str, ScanState]:
        """The scan state of each image resource of a repository, by digest."""
        ...

    def settings_updated_at(self, tenant: Tenant) -> datetime | None:
        """When the scanning configuration was last saved (None: never, the defaults hold)."""
        ...
