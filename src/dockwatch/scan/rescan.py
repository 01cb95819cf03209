"""Continuous rescans: apply one advisory delta to every monitored image it can touch, in bulk.

Cost follows the affected (image, package) pairs, not the images' size: the reverse index maps
each (ecosystem, name) the delta names to (image, package ref) pairs; each distinct package is
matched once (verdicts are per (key, version) in the index), each distinct set of packages is
turned into finding drafts once (images built on the same base layers share it), and the
findings writer reconciles every image in one batch, scoped to the vulnerabilities the delta can
change so that the rest of an image's findings are not even read. No layer and no inventory
document is read.

Enrichment-only changes (KEV, EPSS, NVD scores) take the same path: the images with an open
finding about one of the changed CVEs are re-evaluated for those CVEs only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select, update

from dockwatch.findings.build import FindingDraft, build, vulnerability_id
from dockwatch.findings.service import Target
from dockwatch.match.matcher import Match
from dockwatch.match.service import match_packages
from dockwatch.storage.sql import finding_repo as repo
from dockwatch.storage.sql import outbox, vuln_repo
from dockwatch.storage.sql import tables as t

from .config import ScanFrequency, ScanType

if TYPE_CHECKING:
    from .service import ScanService

logger = logging.getLogger(__name__)

RESCAN_COMPLETED = "RescanCompleted"


@dataclass(slots=True)
class RescanReport:
    """What applying one delta did (also the payload of the `RescanCompleted` event)."""

    version: int
    images: int = 0
    """Image resources re-evaluated (their lastScannedAt moved)."""
    pairs: int = 0
    """Affected (image, package) pairs found through the reverse index."""
    packages: int = 0
    """Distinct packages matched."""
    signatures: int = 0
    """Distinct package sets turned into drafts."""
    opened: int = 0
    reopened: int = 0
    updated: int = 0
    closed: int = 0
    events: int = 0
    layers_read: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "imagesReevaluated": self.images,
            "affectedPairs": self.pairs,
            "packagesMatched": self.packages,
            "signatures": self.signatures,
            "findingsOpened": self.opened,
            "findingsReopened": self.reopened,
            "findingsUpdated": self.updated,
            "findingsClosed": self.closed,
            "layersRead": self.layers_read,
        }


@dataclass(frozen=True, slots=True)
class _Resource:
    repository_id: int
    repository: str
    digest: str
    os_ecosystem: str | None


class _Drafts:
    """Matches per package and drafts per package set, with advisory contents read once."""

    def __init__(self, service: ScanService, conn: Connection) -> None:
        self.service = service
        self.conn = conn
        self.packages: dict[str, Any] = {}
        self._matches: dict[tuple[str, str | None], list[Match]] = {}
        self._contents: dict[tuple[str, str], Mapping[str, Any]] = {}
        self._enrichment: dict[str, Mapping[str, Mapping[str, Any]]] = {}
        self._drafts: dict[tuple[Any, ...], dict[str, FindingDraft]] = {}

    def load_packages(self, refs: Iterable[str]) -> None:
        missing = [r for r in refs if r not in self.packages]
        if missing:
            self.packages.update(repo.load_packages(self.conn, missing))

    def matches(self, ref: str, os_ecosystem: str | None) -> list[Match]:
        key = (ref, os_ecosystem)
        found = self._matches.get(key)
        if found is None:
            pkg = self.packages.get(ref)
            found = (
                [] if pkg is None else match_packages([pkg], os_ecosystem, self.service.index)[0]
            )
            self._matches[key] = found
            self._read_contents(found)
        return found

    def vulnerabilities(self, ref: str, os_ecosystem: str | None) -> set[str]:
        return {
            vulnerability_id(self._contents[(m.source, m.advisory_id)])
            for m in self.matches(ref, os_ecosystem)
            if (m.source, m.advisory_id) in self._contents
        }

    def drafts(
        self, refs: frozenset[str], os_ecosystem: str | None, scope: frozenset[str]
    ) -> dict[str, FindingDraft]:
        key = (refs, os_ecosystem, scope)
        found = self._drafts.get(key)
        if found is None:
            matches = [m for ref in sorted(refs) for m in self.matches(ref, os_ecosystem)]
            matches = [
                m
                for m in matches
                if (m.source, m.advisory_id) in self._contents
                and vulnerability_id(self._contents[(m.source, m.advisory_id)]) in scope
            ]
            vulns = {vulnerability_id(self._contents[(m.source, m.advisory_id)]) for m in matches}
            unknown = [v for v in vulns if v not in self._enrichment]
            if unknown:
                got = vuln_repo.enrichment_for(self.conn, unknown)
                for v in unknown:
                    self._enrichment[v] = got.get(v, {})
            found = build(matches, self._contents, {v: self._enrichment[v] for v in vulns})
            self._drafts[key] = found
        return found

    def _read_contents(self, matches: Sequence[Match]) -> None:
        for m in matches:
            key = (m.source, m.advisory_id)
            if key not in self._contents:
                content = vuln_repo.advisory_content(self.conn, m.source, m.advisory_id)
                if content is not None:
                    self._contents[key] = content


def _monitored(
    service: ScanService, conn: Connection, digests: set[str], findings: set[tuple[int, str]]
) -> list[_Resource]:
    """ACTIVE enhanced image resources of continuously scanned repositories among `digests`
    (any repository) and the `findings` resources."""
    config, _ = service.settings()
    s, r = t.image_scans, t.repositories
    tenant = service.ctx.tenant
    rows = conn.execute(
        select(s.c.repository_id, s.c.digest, s.c.os_ecosystem, r.c.name, r.c.scan_on_push)
        .join(r, r.c.id == s.c.repository_id)
        .where(
            s.c.account_id == tenant.account_id,
            s.c.region == tenant.region,
            s.c.scan_type == "ENHANCED",
            s.c.status_code == "ACTIVE",
        )
    )
    frequency: dict[str, bool] = {}
    out: list[_Resource] = []
    for row in rows:
        if row.digest not in digests and (row.repository_id, row.digest) not in findings:
            continue
        continuous = frequency.get(row.name)
        if continuous is None:
            continuous = frequency[row.name] = (
                config.frequency_for(row.name, row.scan_on_push) is ScanFrequency.CONTINUOUS_SCAN
            )
        if continuous:
            out.append(_Resource(row.repository_id, row.name, row.digest, row.os_ecosystem))
    return out


def apply_delta(service: ScanService, payload: Mapping[str, Any]) -> RescanReport:
    """Re-evaluate every monitored image the `AdvisoriesChanged` payload can touch."""
    import time

    report = RescanReport(int(payload.get("version", 0)))
    config, _ = service.settings()
    if config.scan_type is not ScanType.ENHANCED:
        return report
    keys = [(str(k[0]), str(k[1])) for k in payload.get("packageKeys", [])]
    cves = sorted({str(c) for c in payload.get("cves", [])})
    service.index.refresh()
    clock = time.perf_counter
    started = clock()
    with service.ctx.db.write() as conn:
        # 1. the reverse index: (image, package) pairs under the delta's keys
        pairs = repo.package_pairs(conn, keys) if keys else []
        refs_of: dict[str, set[str]] = {}
        for digest, ref in pairs:
            if ref:
                refs_of.setdefault(digest, set()).add(ref)
        enriched = [r for r in repo.stored_for_vulnerabilities(conn, cves) if r.status != "CLOSED"]
        enriched_at = {(r.repository_id, r.digest) for r in enriched}
        resources = _monitored(service, conn, set(refs_of), enriched_at)
        report.timings["index"] = clock() - started
        if not resources:
            return report
        # 2. each distinct package matched once; the vulnerabilities each can now raise
        drafts = _Drafts(service, conn)
        affected_refs = {ref for x in resources for ref in refs_of.get(x.digest, ())}
        drafts.load_packages(affected_refs)
        report.packages = len(affected_refs)
        touching = repo.open_findings_with_packages(conn, sorted(affected_refs))
        scope_of: dict[tuple[int, str], set[str]] = {}
        for row in touching:
            scope_of.setdefault((row.repository_id, row.digest), set()).add(row.vulnerability_id)
        for row in enriched:
            if row.vulnerability_id in cves:
                scope_of.setdefault((row.repository_id, row.digest), set()).add(
                    row.vulnerability_id
                )
        for x in resources:
            scope = scope_of.setdefault((x.repository_id, x.digest), set())
            for ref in refs_of.get(x.digest, ()):
                scope |= drafts.vulnerabilities(ref, x.os_ecosystem)
        report.timings["match"] = clock() - started
        # 3. the stored findings about those vulnerabilities, and the packages they name
        all_vulns = sorted({v for scope in scope_of.values() for v in scope})
        stored = repo.stored_for_vulnerabilities(conn, all_vulns)
        wanted = {(x.repository_id, x.digest) for x in resources}
        stored = [r for r in stored if (r.repository_id, r.digest) in wanted]
        extra = repo.package_refs_of_details(
            conn, sorted({r.detail_ref for r in stored if r.status != "CLOSED"})
        )
        drafts.load_packages({ref for refs in extra.values() for ref in refs})
        named: dict[tuple[int, str], set[str]] = {}
        for r in stored:
            if r.status != "CLOSED" and r.vulnerability_id in scope_of[(r.repository_id, r.digest)]:
                named.setdefault((r.repository_id, r.digest), set()).update(
                    extra.get(r.detail_ref, ())
                )
        report.timings["stored"] = clock() - started
        # 4. drafts per distinct (packages, release, scope), then one batch for the writer
        targets: list[Target] = []
        signatures: set[tuple[Any, ...]] = set()
        for x in resources:
            key = (x.repository_id, x.digest)
            refs = frozenset(refs_of.get(x.digest, set()) | named.get(key, set()))
            frozen = frozenset(scope_of[key])
            signatures.add((refs, x.os_ecosystem, frozen))
            targets.append(
                Target(
                    x.repository_id,
                    x.repository,
                    x.digest,
                    drafts.drafts(refs, x.os_ecosystem, frozen),
                    frozen,
                )
            )
        report.signatures = len(signatures)
        report.pairs = sum(len(refs_of.get(x.digest, ())) for x in resources)
        report.timings["drafts"] = clock() - started
        now = service.clock.now()
        applied = service.writer.apply(conn, targets, now, stored=stored)
        report.timings["write"] = clock() - started
        _touch(conn, resources, now, service.index.version)
        report.images = len(resources)
        report.opened, report.reopened = applied.opened, applied.reopened
        report.updated, report.closed, report.events = (
            applied.updated,
            applied.closed,
            applied.events,
        )
        outbox.append(
            conn,
            account_id=service.ctx.tenant.account_id,
            region=service.ctx.tenant.region,
            event_type=RESCAN_COMPLETED,
            subject=str(report.version),
            payload=report.to_wire(),
            at=now,
        )
        report.timings["total"] = clock() - started
    logger.info("advisory delta %s applied: %s", report.version, report.to_wire())
    return report


def _touch(conn: Connection, resources: Sequence[_Resource], now: datetime, version: int) -> None:
    """lastScannedAt moves for every image re-evaluated, as Inspector's does."""
    s = t.image_scans
    stmt = (
        update(s)
        .where(s.c.repository_id == bindparam("b_repo"), s.c.digest == bindparam("b_digest"))
        .values(last_scanned_at=bindparam("b_at"), db_version=bindparam("b_version"))
    )
    conn.execute(
        stmt,
        [
            {"b_repo": x.repository_id, "b_digest": x.digest, "b_at": now, "b_version": version}
            for x in resources
        ],
    )
