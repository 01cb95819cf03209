"""The storage interface for findings, their content-addressed details and their packages.

Services depend on this protocol only; `storage/sql/finding_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.

A finding row holds what differs per image resource (status, timestamps, the columns filters and
aggregations use); its content lives in a detail document under a hash, shared by every image
whose finding reads the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from dockwatch.model.identity import Tenant
from dockwatch.model.package import Package
from dockwatch.value_class import frozen

if TYPE_CHECKING:
    from dockwatch.model.finding_criteria import Criteria


def detail_document(detail: Mapping[str, Any]) -> tuple[str, bytes]:
    """(ref, canonical bytes) of a finding detail: the ref is a hash of the sorted-key JSON, so
    identical details share one ref whichever image they come from."""
    doc = orjson.dumps(detail, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(doc).hexdigest()[:32], doc


@frozen
class StoredRow:
    """A stored finding without its content (what reconciling and events need)."""

    id: str
    repository_id: int
    digest: str
    vulnerability_id: str
    generation: int
    status: str
    severity: str
    fix_available: str
    exploit_available: str
    inspector_score: float | None
    first_observed_at: datetime
    last_observed_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    detail_ref: str
    suppressed_by: str | None


@frozen
class FindingRow:
    """A stored finding with its content."""

    id: str
    repository_name: str
    digest: str
    vulnerability_id: str
    generation: int
    status: str
    severity: str
    fix_available: str
    first_observed_at: datetime
    last_observed_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    detail_ref: str
    suppressed_by: str | None
    detail: dict[str, Any]


@frozen
class FindingState:
    """What an evaluation sets on an open finding (the columns filters and aggregations read)."""

    status: str
    suppressed_by: str | None
    severity: str
    fix_available: str
    exploit_available: str
    inspector_score: float | None
    epss_score: float | None
    source: str
    last_observed_at: datetime
    updated_at: datetime
    detail_ref: str


@frozen
class NewFinding:
    """A finding to insert: its identity and first state."""

    id: str
    tenant: Tenant
    repository_id: int
    repository_name: str
    digest: str
    vulnerability_id: str
    generation: int
    first_observed_at: datetime
    state: FindingState


@frozen
class DetailPackage:
    """One vulnerable package of a detail, kept in columns for package filters."""

    pkg_ref: str
    name: str
    version: str
    package_manager: str
    source_layer_hash: str | None
    fixed_in_version: str | None
    file_path: str | None


@frozen
class NewDetail:
    """A detail document to store: its canonical bytes and its vulnerable packages, in order."""

    ref: str
    doc: bytes
    packages: tuple[DetailPackage, ...]


@frozen
class ImageFacts:
    """What a finding says about its image besides the name: tags and push time."""

    tags: tuple[str, ...]
    pushed_at: datetime | None


@frozen
class RuleRecord:
    """A stored suppression rule (its criteria as the JSON document the client sent)."""

    id: str
    arn: str
    name: str
    action: str
    criteria: dict[str, Any]
    description: str | None
    reason: str | None
    tags: dict[str, str]
    expires_at: datetime | None
    expired_at: datetime | None
    created_at: datetime
    updated_at: datetime


@frozen
class SuppressionCandidate:
    """An open finding a suppression rule change may touch (what its event reports)."""

    id: str
    repository_id: int
    repository_name: str
    digest: str
    vulnerability_id: str
    status: str
    severity: str
    fix_available: str
    first_observed_at: datetime
    last_observed_at: datetime
    detail_ref: str
    suppressed_by: str | None


@frozen
class Purged:
    """What one purge deleted."""

    findings: int
    details: int


class FindingRepo(Protocol):
    """Findings, their content-addressed details, and the inventory packages they name."""

    def hold_images(self, resources: Sequence[tuple[int, str]]) -> None:
        """Hold the findings of the (repository id, digest) resources until the transaction
        ends: another writer holding one of them is waited for, so that a writer reads its
        images' findings after the last writer's commit. Taken before reading them."""
        ...

    def stored_of(self, resources: Sequence[tuple[int, str]]) -> list[StoredRow]:
        """Every finding (any status) of the (repository id, digest) resources, ordered by
        resource, vulnerability id, then generation (oldest first)."""
        ...

    def stored_for_vulnerabilities(self, vulns: Sequence[str]) -> list[StoredRow]:
        """Every finding (any status) about the vulnerability ids, in any image resource."""
        ...

    def findings_of(self, repository_id: int, digest: str) -> list[FindingRow]:
        """Every finding of an image resource with its content, newest generation last."""
        ...

    def active_counts(
        self, tenant: Tenant, repository_id: int, digests: Sequence[str]
    ) -> dict[str, dict[str, int]]:
        """ACTIVE findings by severity (`CRITICAL`, ..., `UNTRIAGED`; those above zero) of
        each of the repository's images `digests` that has any."""
        ...

    def details_with_packages(self, pkg_refs: Sequence[str]) -> set[str]:
        """The refs of the details that name one of the packages."""
        ...

    def open_findings_with_details(self, detail_refs: Sequence[str]) -> list[StoredRow]:
        """Open findings whose content is one of the details."""
        ...

    def package_refs_of_details(self, refs: Sequence[str]) -> dict[str, set[str]]:
        """The package refs each detail names."""
        ...

    def missing_details(self, refs: Iterable[str]) -> set[str]:
        """Those of `refs` not stored yet."""
        ...

    def insert_details(self, details: Sequence[NewDetail], at: datetime) -> None:
        """Store new details (their refs must be missing)."""
        ...

    def load_details(self, refs: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Detail documents by ref."""
        ...

    def details_naming(self, refs: Iterable[str], advisories: Iterable[str]) -> set[str]:
        """Those of the details whose evidence names one of the advisories (`source/id`)."""
        ...

    def insert_findings(self, findings: Sequence[NewFinding]) -> None:
        """Store new findings."""
        ...

    def room_for(self, writes: int) -> AbstractContextManager[None]:
        """The writes of a batch of about `writes` findings go inside this block: a store may
        give them more room (SQLite: a larger page cache while the block lasts)."""
        ...

    def set_states(self, states: Mapping[str, FindingState]) -> None:
        """Give open findings (by id) a new state; reopens a closed one."""
        ...

    def mark_observed(self, ids: Sequence[str], at: datetime) -> None:
        """Findings seen again unchanged: only their `lastObservedAt` moves."""
        ...

    def close(self, ids: Sequence[str], at: datetime) -> None:
        """Close findings (and lift any suppression)."""
        ...

    def image_facts(
        self, resources: Sequence[tuple[int, str]]
    ) -> dict[tuple[int, str], ImageFacts]:
        """Tags (sorted) and push time of the (repository id, digest) images that exist."""
        ...

    def put_packages(self, docs: Mapping[str, bytes]) -> None:
        """Store inventory package documents not stored yet (ref -> document)."""
        ...

    def load_packages(self, refs: Iterable[str]) -> dict[str, Package]:
        """Inventory packages by ref."""
        ...

    def package_pairs(self, keys: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """(image digest, package ref) of every inventory package looked up under one of the
        (ecosystem, name) keys."""
        ...

    def purge_closed(
        self, tenant: Tenant, now: datetime, *, closed_after: timedelta, gone_after: timedelta
    ) -> Purged:
        """Delete the tenant's CLOSED findings closed at least `closed_after` ago, or
        `gone_after` ago when their image is deleted or no longer eligible (no scan state, or
        INACTIVE); then the details no finding references any more."""
        ...

    def rules_in_force(self, tenant: Tenant, now: datetime) -> list[RuleRecord]:
        """The tenant's SUPPRESS rules not past their expiry, oldest first."""
        ...

    def find_rule(self, tenant: Tenant, rule_id: str) -> RuleRecord | None:
        """One rule of the tenant by id."""
        ...

    def rule_named(self, tenant: Tenant, name: str) -> str | None:
        """The id of the tenant's rule called `name`, if any."""
        ...

    def insert_rule(self, tenant: Tenant, rule: RuleRecord) -> None:
        """Store a new rule."""
        ...

    def replace_rule(self, tenant: Tenant, rule: RuleRecord) -> None:
        """Store a changed rule over the one with its id."""
        ...

    def delete_rule(self, tenant: Tenant, rule_id: str) -> None:
        """Forget a rule."""
        ...

    def list_rules(
        self,
        tenant: Tenant,
        *,
        action: str | None,
        arns: Sequence[str],
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[RuleRecord]:
        """Rules oldest first (creation time, then id), after the (created, id) position."""
        ...

    def due_rules(self, tenant: Tenant, now: datetime, limit: int | None = None) -> list[str]:
        """Ids of SUPPRESS rules past their expiry whose expiry is not applied yet."""
        ...

    def mark_rule_expired(self, tenant: Tenant, rule_id: str, at: datetime) -> None:
        """Record that a rule's expiry has been applied to the findings."""
        ...

    def suppression_candidates(
        self,
        tenant: Tenant,
        *,
        suppressed_by: str | None = None,
        active_matching: Criteria | None = None,
    ) -> dict[str, SuppressionCandidate]:
        """Open findings suppressed by the rule `suppressed_by`, and ACTIVE ones
        `active_matching` matches, by id."""
        ...

    def ids_matching(self, ids: Sequence[str], criteria: Criteria) -> set[str]:
        """Those of the finding ids the criteria match."""
        ...

    def set_suppression(
        self, changes: Mapping[str, tuple[str, str | None]], at: datetime | None
    ) -> None:
        """Set (status, suppressing rule) on findings by id; `at` also moves `updatedAt`
        (None: the rule naming a still-suppressed finding changed, nothing a client sees)."""
        ...
