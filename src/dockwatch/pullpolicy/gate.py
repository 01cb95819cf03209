"""The pull gate: the verdict on one manifest pull, read fresh from the store every time.

The `/v2` adapter asks `judge` after it has resolved the manifest it would serve (by tag or
digest, after content negotiation), so whatever path a client takes to an image, the bytes it
would receive are what is judged:

- an image manifest is judged by itself;
- an index (or Docker manifest list) is judged by every platform image it lists (nested indexes
  one level down): it is refused when any one of them is refused, and the detail names which;
- artifacts (signatures, attestations, SBOMs: a manifest whose config is not an image config,
  or none of whose layers a runtime unpacks) are not judged, so `cosign verify` keeps working.

An allowance on the image, on the served manifest, or on an index of the same repository that
lists the image lets it through until it expires. Nothing is cached: a policy, allowance,
suppression rule or finding changed by one request governs the next pull.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from dockwatch.clock import Clock
from dockwatch.errors import DockwatchError
from dockwatch.model.events import PullRefused
from dockwatch.model.identity import Tenant
from dockwatch.model.oci import ImageIndex, ImageManifest, parse_manifest
from dockwatch.model.oci_values import IMAGE_CONFIG_TYPES, LAYER_TYPES, ManifestInvalid
from dockwatch.storage.pull_policy_repo import REGISTRY_SCOPE, OpenFinding, PolicyRecord
from dockwatch.storage.scan_repo import ScanState
from dockwatch.storage.unit_of_work import Store, UnitOfWork
from dockwatch.value_class import frozen

from .policy import PullPolicy, allowance_from_record, from_record
from .verdict import ImageFacts, PullVerdict, ScanFacts, judge_image

logger = logging.getLogger(__name__)

MAX_INDEX_DEPTH = 2
"""An index listing indexes is followed this deep (the spec allows nesting; clients rarely)."""


class PullRefusedError(DockwatchError):
    """A pull a policy refuses; the OCI adapter renders it as DENIED with the verdict's detail."""

    def __init__(self, verdict: PullVerdict) -> None:
        super().__init__(verdict.message())
        self.verdict = verdict
        self.detail = verdict.detail()


@frozen
class _Target:
    digest: str
    platform: str | None


def choose_policy(records: list[PolicyRecord], repository: str) -> PullPolicy | None:
    """The policy governing `repository`: its own when it has one, else the registry's."""
    by_scope = {r.repository: r for r in records}
    record = by_scope.get(repository) or by_scope.get(REGISTRY_SCOPE)
    return None if record is None else from_record(record)


def is_judged_image(manifest: ImageManifest) -> bool:
    """Whether a runtime would run this manifest: schema 1, or an image config with at least
    one layer a runtime unpacks (or no layer at all). Anything else is an artifact."""
    if manifest.schema1 is not None or manifest.config is None:
        return True
    if manifest.config.media_type not in IMAGE_CONFIG_TYPES:
        return False
    return not manifest.layers or any(x.media_type in LAYER_TYPES for x in manifest.layers)


class PullGate:
    """Judges manifest pulls and records refusals (event; the adapter counts the metric)."""

    def __init__(
        self, store: Store, clock: Clock, tenant: Tenant, *, event_interval_seconds: float = 60
    ) -> None:
        self.store = store
        self.clock = clock
        self.tenant = tenant
        self.event_interval = timedelta(seconds=event_interval_seconds)
        self._lock = threading.Lock()
        self._last_event: dict[tuple[str, str, tuple[str, ...]], datetime] = {}

    def judge(
        self, repository: str, digest: str, media_type: str, content: bytes
    ) -> PullVerdict | None:
        """The verdict on serving this manifest of `repository`; None when no policy governs
        it or it stands for no runnable image (an artifact)."""
        now = self.clock.now()
        with self.store.read() as uow:
            policy = choose_policy(
                uow.pull_policies.policies_for(self.tenant, repository), repository
            )
            if policy is None or not policy.enabled:
                return None
            repo = uow.registry.get_repository(self.tenant, repository)
            if repo is None:
                return None
            targets = self._targets(uow, repo.id, digest, media_type, content, 0, None)
            if not targets:
                return None
            rules: frozenset[str] | None = None
            images = []
            allowance = None
            for target in targets:
                allowed = uow.pull_policies.allowance_for_image(
                    self.tenant, repository, repo.id, target.digest, digest, now
                )
                if allowed is not None:
                    allowance = allowance or allowance_from_record(allowed)
                    continue
                state = uow.scans.get_scan(repo.id, target.digest)
                findings = self._findings(uow, policy, repo.id, target.digest, state)
                if rules is None and any(f.status == "SUPPRESSED" for f in findings):
                    rules = uow.pull_policies.rule_ids_in_force(self.tenant, now)
                scan = None if state is None else ScanFacts(
                    state.scan_type, state.status_code, state.reason, state.last_scanned_at
                )  # fmt: skip
                facts = ImageFacts(
                    target.digest, target.platform, scan, tuple(findings), rules or frozenset()
                )
                images.append(judge_image(policy, facts, now))
        refused_any = any(v.refused for v in images)
        return PullVerdict(
            policy, repository, digest, tuple(images), None if refused_any else allowance
        )

    def _targets(
        self,
        uow: UnitOfWork,
        repo_id: int,
        digest: str,
        media_type: str,
        content: bytes,
        depth: int,
        platform: str | None,
    ) -> list[_Target]:
        try:
            manifest = parse_manifest(content, media_type, strict=False)
        except ManifestInvalid:
            return [_Target(digest, platform)]  # unreadable here: judged, never waved through
        if isinstance(manifest, ImageManifest):
            return [_Target(digest, platform)] if is_judged_image(manifest) else []
        return self._index_targets(uow, repo_id, manifest, depth)

    def _index_targets(
        self, uow: UnitOfWork, repo_id: int, index: ImageIndex, depth: int
    ) -> list[_Target]:
        out: list[_Target] = []
        if depth >= MAX_INDEX_DEPTH:
            return out
        for desc in index.runnable():
            if uow.registry.get_manifest(repo_id, desc.digest) is None:
                continue  # not in this repository: it cannot be pulled from here
            stored = uow.registry.manifest_content(desc.digest)
            if stored is None:
                continue
            platform = None if desc.platform is None else str(desc.platform)
            for target in self._targets(
                uow, repo_id, desc.digest, stored.media_type, stored.content, depth + 1, platform
            ):
                if target not in out:
                    out.append(target)
        return out

    def _findings(
        self,
        uow: UnitOfWork,
        policy: PullPolicy,
        repo_id: int,
        digest: str,
        state: ScanState | None,
    ) -> list[OpenFinding]:
        if policy.severity_threshold is None and not policy.block_exploitable:
            return []  # a scan-only policy reads no finding
        findings = uow.pull_policies.open_findings(repo_id, digest)
        if state is not None and state.scan_type == "BASIC":
            basic, _ = uow.scans.basic_result(repo_id, digest)
            findings = [*findings, *(_basic_finding(f) for f in basic or [])]
        return findings

    def record_refusal(self, verdict: PullVerdict, reference: str) -> bool:
        """Write a `PullRefused` event unless one for this image and these reasons was written
        within the interval; whether one was written."""
        now = self.clock.now()
        key = (verdict.repository, verdict.digest, verdict.reasons)
        with self._lock:
            last = self._last_event.get(key)
            if last is not None and now - last < self.event_interval:
                return False
            self._last_event[key] = now
            if len(self._last_event) > 10_000:  # bounded: forget the oldest marks
                for stale in sorted(self._last_event, key=self._last_event.__getitem__)[:5_000]:
                    del self._last_event[stale]
        pairs = verdict.blocking()
        event = PullRefused(
            self.tenant,
            now,
            repository_name=verdict.repository,
            image_digest=verdict.digest,
            reference=reference,
            policy_scope=verdict.policy.scope,
            reasons=verdict.reasons,
            vulnerability_ids=tuple(dict.fromkeys(f.vulnerability_id for _, f in pairs))[:20],
            refused_digests=tuple(v.digest for v in verdict.refused_images)[:16],
        )
        with self.store.write() as uow:
            uow.outbox.append(event)
        logger.info(
            "pull refused",
            extra={"repository": verdict.repository, "digest": verdict.digest,
                   "reasons": ",".join(verdict.reasons)},
        )  # fmt: skip
        return True


def _basic_finding(f: dict[str, object]) -> OpenFinding:
    """A basic scan's finding (ECR's shape) as a verdict reads it: no suppression, no exploit
    data; UNDEFINED severity is UNTRIAGED."""
    attributes = f.get("attributes")
    package = None
    if isinstance(attributes, list):
        for a in attributes:
            if isinstance(a, dict) and a.get("key") == "package_name":
                package = str(a.get("value"))
                break
    severity = str(f.get("severity") or "UNTRIAGED")
    return OpenFinding(
        str(f.get("name")), "UNTRIAGED" if severity == "UNDEFINED" else severity, "NO", "ACTIVE",
        None, package,
    )  # fmt: skip
