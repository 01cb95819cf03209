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

import gc
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dockwatch.findings.build import FindingDraft, remember_refs
from dockwatch.findings.service import Target
from dockwatch.match.matcher import Match
from dockwatch.match.service import match_packages
from dockwatch.model.events import RescanCompleted
from dockwatch.model.package import Package
from dockwatch.storage.image_buckets import in_shard
from dockwatch.storage.unit_of_work import UnitOfWork
from dockwatch.value_class import frozen
from dockwatch.vulndb.collector import collector_paused

from .config import ScanFrequency, ScanType
from .environment import ScanEnvironment
from .jobs import ApplyDelta
from .pipeline import Drafter

logger = logging.getLogger(__name__)


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


@frozen
class _Resource:
    repository_id: int
    repository: str
    digest: str
    os_ecosystem: str | None


class _Drafts:
    """Matches per package and drafts per package set (the `Drafter` reads advisories)."""

    def __init__(self, env: ScanEnvironment, uow: UnitOfWork) -> None:
        self.env = env
        self.uow = uow
        self.drafter = Drafter(uow.vulns)
        self.packages: dict[str, Package] = {}
        self._matches: dict[tuple[str, str | None], list[Match]] = {}
        self._drafts: dict[tuple[Any, ...], dict[str, FindingDraft]] = {}

    def prepare(self, refs: Iterable[tuple[str, str | None]]) -> None:
        """Load the packages, match each once, and read the contents of what they match."""
        wanted = [(r, e) for r, e in set(refs) if (r, e) not in self._matches]
        missing = {r for r, _ in wanted if r not in self.packages}
        if missing:
            loaded = self.uow.catalog.packages(missing)
            remember_refs(loaded)
            self.packages.update(loaded)
        advisories: set[tuple[str, str]] = set()
        for ref, ecosystem in wanted:
            pkg = self.packages.get(ref)
            found = [] if pkg is None else match_packages([pkg], ecosystem, self.env.index)[0]
            self._matches[(ref, ecosystem)] = found
            advisories |= {(m.source, m.advisory_id) for m in found}
        self.drafter.read_contents(advisories)

    def vulnerability(self, key: tuple[str, str]) -> str | None:
        return self.drafter.vulnerability(key)

    def vulnerabilities(self, key: tuple[str, str]) -> tuple[str, ...]:
        return self.drafter.vulnerabilities(key)

    def matches(self, ref: str, os_ecosystem: str | None) -> list[Match]:
        return self._matches.get((ref, os_ecosystem), [])

    def drafts(
        self, refs: frozenset[str], os_ecosystem: str | None, scope: frozenset[str]
    ) -> dict[str, FindingDraft]:
        key = (refs, os_ecosystem, scope)
        found = self._drafts.get(key)
        if found is None:
            matches = [m for ref in sorted(refs) for m in self.matches(ref, os_ecosystem)]
            found = self._drafts[key] = self.drafter.drafts(matches, scope)
        return found


def _monitored(
    env: ScanEnvironment, uow: UnitOfWork, digests: set[str], findings: set[tuple[int, str]]
) -> list[_Resource]:
    """ACTIVE enhanced image resources of continuously scanned repositories among `digests`
    (any repository) and the `findings` resources."""
    config, _ = env.settings()
    frequency: dict[str, bool] = {}
    out: list[_Resource] = []
    for monitored in uow.scans.monitored_images(env.tenant):
        x = monitored.image
        if x.digest not in digests and (x.repository_id, x.digest) not in findings:
            continue
        continuous = frequency.get(x.repository)
        if continuous is None:
            continuous = frequency[x.repository] = (
                config.frequency_for(x.repository, x.scan_on_push) is ScanFrequency.CONTINUOUS_SCAN
            )
        if continuous:
            out.append(_Resource(x.repository_id, x.repository, x.digest, monitored.os_ecosystem))
    return out


def apply_delta(env: ScanEnvironment, job: ApplyDelta) -> RescanReport:
    """Re-evaluate every monitored image the advisory delta can touch, for the
    vulnerabilities it can change. The cyclic collector is held off as in an import: the batch
    allocates hundreds of thousands of short-lived, acyclic objects (rows, drafts, events), and
    the full collections their bursts set off were a third of the apply at 13,500 findings
    written. What outlives the delta goes to the collector's oldest generation (`_promoted`)."""
    with collector_paused():
        report = _apply_delta(env, job)
        _promoted()
    return report


def _promoted() -> None:
    """Move the objects allocated while the collector was held off to its oldest generation.

    What survives a delta is long-lived (the match index's entries prepared for the changed
    keys, caches of packages and CVSS scores: about 400,000 objects at 2,000 images, with about
    400 in garbage cycles among them); left young, the first collection after the delta walked
    them all, 0.12-0.16 s of CPU at the end of every apply (`bench/scanning.py --data`, 1.88 s
    against 2.00-2.05 s). `gc.freeze()` then `gc.unfreeze()` moves every tracked object to the
    oldest generation, which full collections still walk. Skipped when something else keeps
    objects frozen (unfreezing would release them)."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


def _apply_delta(env: ScanEnvironment, job: ApplyDelta) -> RescanReport:
    report = RescanReport(job.version)
    config, _ = env.settings()
    if config.scan_type is not ScanType.ENHANCED:
        return report
    keys = list(job.package_keys)
    delta = {(job.source, a) for a in (*job.added, *job.modified, *job.withdrawn)}
    cves = sorted(set(job.cves))
    env.index.refresh()
    clock = time.perf_counter
    started = clock()
    with env.store.write() as uow:
        # 1. the reverse index: (image, package) pairs under the delta's keys
        pairs = uow.catalog.package_pairs(keys)
        refs_of: dict[str, set[str]] = {}
        for digest, ref in pairs:
            if ref:
                refs_of.setdefault(digest, set()).add(ref)
        enriched = [
            r for r in uow.findings.stored_for_vulnerabilities(cves) if r.status != "CLOSED"
        ]
        resources = _monitored(
            env, uow, set(refs_of), {(r.repository_id, r.digest) for r in enriched}
        )
        if job.shards > 1:  # the update's other shards take the other buckets' images
            resources = [
                x for x in resources if in_shard(x.repository_id, x.digest, job.shard, job.shards)
            ]
        report.timings["index"] = clock() - started
        if not resources:
            return report
        # a scan of one of them beside this delta writes it before or after, never between
        # this read of its findings and this write
        uow.findings.hold_images([(x.repository_id, x.digest) for x in resources])
        # 2. each distinct package matched once; the vulnerabilities the delta can change
        drafts = _Drafts(env, uow)
        drafts.drafter.read_contents(delta)
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
                        for v in drafts.vulnerabilities((m.source, m.advisory_id))
                    }
                scope |= got
        # findings that named a delta advisory (withdrawn, or no longer matching) are in scope
        # (details first: thousands of images share one detail, so only the few details that
        # name a delta advisory have their findings read)
        touched = uow.findings.details_with_packages(sorted(affected_refs)) if delta else set()
        named_delta = _details_naming(uow, touched, delta)
        for r in uow.findings.open_findings_with_details(sorted(named_delta)):
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
            for r in uow.findings.stored_for_vulnerabilities(all_vulns)
            if (r.repository_id, r.digest) in scope_of
        ]
        extra = uow.findings.package_refs_of_details(
            sorted({r.detail_ref for r in stored if r.status != "CLOSED"})
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
        epoch = uow.scans.activation_epoch(env.tenant)
        drafts.drafter.read_enrichment(all_vulns)
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
                    epoch,
                )
            )
        report.signatures = len(signatures)
        report.pairs = sum(len(refs_of.get(x.digest, ())) for x in resources)
        report.timings["drafts"] = clock() - started
        now = env.clock.now()
        applied = env.writer.apply(uow, targets, now, stored=stored)
        report.timings["write"] = clock() - started
        # lastScannedAt moves for every image re-evaluated, as Inspector's does
        resource_keys = [(x.repository_id, x.digest) for x in resources]
        uow.scans.touch_scanned(resource_keys, now, env.index.version)
        report.images = len(resources)
        report.opened, report.reopened = applied.opened, applied.reopened
        report.updated, report.closed, report.events = (
            applied.updated,
            applied.closed,
            applied.events,
        )
        uow.outbox.append(
            RescanCompleted(
                env.tenant,
                now,
                report.version,
                report.images,
                report.pairs,
                report.packages,
                report.signatures,
                report.opened,
                report.reopened,
                report.updated,
                report.closed,
                report.layers_read,
                f"{job.shard}/{job.shards}" if job.shards > 1 else None,
            )
        )
        report.timings["total"] = clock() - started
    logger.info("advisory delta %s applied: %s", report.version, report.to_wire())
    return report


def _details_naming(
    uow: UnitOfWork, detail_refs: set[str], advisories: set[tuple[str, str]]
) -> set[str]:
    """The finding details whose evidence names one of the advisories."""
    if not detail_refs or not advisories:
        return set()
    return uow.findings.details_naming(detail_refs, {f"{s}/{a}" for s, a in advisories})
