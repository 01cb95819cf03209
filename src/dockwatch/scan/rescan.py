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
    """Matches per package and drafts per package set, with advisory contents read in bulk."""

    def __init__(self, service: ScanService, conn: Connection) -> None:
        self.service = service
        self.conn = conn
        self.packages: dict[str, Any] = {}
        self._matches: dict[tuple[str, str | None], list[Match]] = {}
        self.contents: dict[tuple[str, str], Mapping[str, Any]] = {}
        self._vuln: dict[tuple[str, str], str] = {}
        self._enrichment: dict[str, Mapping[str, Mapping[str, Any]]] = {}
        self._drafts: dict[tuple[Any, ...], dict[str, FindingDraft]] = {}

    def prepare(self, refs: Iterable[tuple[str, str | None]]) -> None:
        """Load the packages, match each once, and read the contents of what they match."""
        wanted = [(r, e) for r, e in set(refs) if (r, e) not in self._matches]
        missing = {r for r, _ in wanted if r not in self.packages}
        if missing:
            self.packages.update(repo.load_packages(self.conn, missing))
        advisories: set[tuple[str, str]] = set()
        for ref, ecosystem in wanted:
            pkg = self.packages.get(ref)
            found = [] if pkg is None else match_packages([pkg], ecosystem, self.service.index)[0]
            self._matches[(ref, ecosystem)] = found
            advisories |= {(m.source, m.advisory_id) for m in found}
        self.read_contents(advisories)

    def read_contents(self, keys: Iterable[tuple[str, str]]) -> None:
        unknown = [k for k in set(keys) if k not in self.contents]
        if unknown:
            self.contents.update(vuln_repo.advisory_contents(self.conn, unknown))

    def vulnerability(self, key: tuple[str, str]) -> str | None:
        found = self._vuln.get(key)
        if found is None and key in self.contents:
            found = self._vuln[key] = vulnerability_id(self.contents[key])
        return found

    def matches(self, ref: str, os_ecosystem: str | None) -> list[Match]:
        return self._matches.get((ref, os_ecosystem), [])

    def drafts(
        self, refs: frozenset[str], os_ecosystem: str | None, scope: frozenset[str]
    ) -> dict[str, FindingDraft]:
        key = (refs, os_ecosystem, scope)
        found = self._drafts.get(key)
        if found is None:
            matches = [
                m
                for ref in sorted(refs)
                for m in self.matches(ref, os_ecosystem)
                if self.vulnerability((m.source, m.advisory_id)) in scope
            ]
            vulns = {self._vuln[(m.source, m.advisory_id)] for m in matches}
            unknown = [v for v in vulns if v not in self._enrichment]
            if unknown:
                got = vuln_repo.enrichment_for(self.conn, unknown)
                for v in unknown:
                    self._enrichment[v] = got.get(v, {})
            found = build(matches, self.contents, {v: self._enrichment[v] for v in vulns})
            self._drafts[key] = found
        return found


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
    """Re-evaluate every monitored image the `AdvisoriesChanged` payload can touch, for the
    vulnerabilities it can change."""
    import time

    report = RescanReport(int(payload.get("version", 0)))
    config, _ = service.settings()
    if config.scan_type is not ScanType.ENHANCED:
        return report
    keys = [(str(k[0]), str(k[1])) for k in payload.get("packageKeys", [])]
    source = str(payload.get("source", ""))
    delta = {
        (source, str(a))
        for field_name in ("added", "modified", "withdrawn")
        for a in payload.get(field_name, [])
    }
    cves = sorted({str(c) for c in payload.get("cves", [])})
    service.index.refresh()
    clock = time.perf_counter
    started = clock()
    with service.db.write() as conn:
        # 1. the reverse index: (image, package) pairs under the delta's keys
        pairs = repo.package_pairs(conn, keys) if keys else []
        refs_of: dict[str, set[str]] = {}
        for digest, ref in pairs:
            if ref:
                refs_of.setdefault(digest, set()).add(ref)
        enriched = [r for r in repo.stored_for_vulnerabilities(conn, cves) if r.status != "CLOSED"]
        resources = _monitored(
            service, conn, set(refs_of), {(r.repository_id, r.digest) for r in enriched}
        )
        report.timings["index"] = clock() - started
        if not resources:
            return report
        # 2. each distinct package matched once; the vulnerabilities the delta can change
        drafts = _Drafts(service, conn)
        drafts.read_contents(delta)
        drafts.prepare(
            {(ref, x.os_ecosystem) for x in resources for ref in refs_of.get(x.digest, ())}
        )
        affected_refs = {ref for x in resources for ref in refs_of.get(x.digest, ())}
        report.packages = len(affected_refs)
        scope_of: dict[tuple[int, str], set[str]] = {
            (x.repository_id, x.digest): set() for x in resources
        }
        new_scope: dict[tuple[str, str | None], set[str]] = {}
        for x in resources:
            scope = scope_of[(x.repository_id, x.digest)]
            for ref in refs_of.get(x.digest, ()):
                got = new_scope.get((ref, x.os_ecosystem))
                if got is None:
                    got = new_scope[(ref, x.os_ecosystem)] = {
                        v
                        for m in drafts.matches(ref, x.os_ecosystem)
                        if (m.source, m.advisory_id) in delta
                        and (v := drafts.vulnerability((m.source, m.advisory_id))) is not None
                    }
                scope |= got
        # findings that named a delta advisory (withdrawn, or no longer matching) are in scope
        # (details first: thousands of images share one detail, so only the few details that
        # name a delta advisory have their findings read)
        touched = repo.details_with_packages(conn, sorted(affected_refs)) if delta else set()
        named_delta = _details_naming(conn, touched, delta)
        for r in repo.open_findings_with_details(conn, sorted(named_delta)):
            key = (r.repository_id, r.digest)
            if key in scope_of:
                scope_of[key].add(r.vulnerability_id)
        for r in enriched:
            key = (r.repository_id, r.digest)
            if key in scope_of:
                scope_of[key].add(r.vulnerability_id)
        report.timings["match"] = clock() - started
        # 3. the stored findings about those vulnerabilities, and the packages they name
        all_vulns = sorted({v for scope in scope_of.values() for v in scope})
        stored = [
            r
            for r in repo.stored_for_vulnerabilities(conn, all_vulns)
            if (r.repository_id, r.digest) in scope_of
        ]
        extra = repo.package_refs_of_details(
            conn, sorted({r.detail_ref for r in stored if r.status != "CLOSED"})
        )
        named: dict[tuple[int, str], set[str]] = {}
        ecosystem_of = {(x.repository_id, x.digest): x.os_ecosystem for x in resources}
        for r in stored:
            key = (r.repository_id, r.digest)
            if r.status != "CLOSED" and r.vulnerability_id in scope_of[key]:
                named.setdefault(key, set()).update(extra.get(r.detail_ref, ()))
        drafts.prepare({(ref, ecosystem_of[k]) for k, refs in named.items() for ref in refs})
        report.timings["stored"] = clock() - started
        # 4. drafts per distinct (packages, release, scope), then one batch for the writer
        targets: list[Target] = []
        signatures: set[tuple[Any, ...]] = set()
        for x in resources:
            key = (x.repository_id, x.digest)
            frozen = frozenset(scope_of[key])
            if not frozen:
                continue  # re-evaluated: nothing the delta says applies to it
            refs = frozenset(refs_of.get(x.digest, set()) | named.get(key, set()))
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


def _details_naming(
    conn: Connection, detail_refs: set[str], advisories: set[tuple[str, str]]
) -> set[str]:
    """The finding details whose evidence names one of the advisories."""
    if not detail_refs or not advisories:
        return set()
    wanted = {f"{s}/{a}" for s, a in advisories}
    return {
        ref
        for ref, doc in repo.load_details(conn, detail_refs).items()
        if any(e.get("advisory") in wanted for e in doc.get("evidence", ()))
    }


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
