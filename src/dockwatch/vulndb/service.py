"""Applying feed output to the vulnerability database, with a delta for every change.

An import of one source is parsed and fingerprinted first, outside any transaction; then one
short write transaction compares fingerprints with what is stored, writes only what changed,
creates a database version and its delta rows, and puts an `AdvisoriesChanged` event in the
outbox. The same advisories arriving in another form (zip or folder, YAML or JSON, keys in
another order) have the same fingerprints, so they change nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from dockwatch.clock import Clock
from dockwatch.errors import Conflict
from dockwatch.model.advisory import (
    Advisory,
    EpssScore,
    KevEntry,
    NvdCvss,
    canonical_content,
    content_fingerprint,
)
from dockwatch.model.events import AdvisoriesChanged
from dockwatch.model.identity import Tenant
from dockwatch.model.times import iso
from dockwatch.storage.unit_of_work import Store, UnitOfWork
from dockwatch.storage.vuln_repo import (
    AdvisoryRow,
    Change,
    EncodedAdvisory,
    KnownRecord,
    SourceImport,
    encode,
    pack_content,
)
from dockwatch.value_class import frozen

from .sync_lease import left_by_a_dead_process

logger = logging.getLogger(__name__)

SYNC_LEASE = "feed-sync"
DEFAULT_STALE_AFTER = timedelta(hours=48)
DATA_ACCOUNT = "000000000000"
"""Advisory data is public: its events are written for the default account and region."""


@dataclass(slots=True)
class ImportResult:
    """What one import of one source changed."""

    source: str
    version: int | None = None
    """The new database version, or None when nothing changed."""
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    unchanged: int = 0
    package_keys: set[tuple[str, str]] = field(default_factory=set)
    """(ecosystem, package) keys whose affected data changed: the images to re-evaluate."""
    cves: set[str] = field(default_factory=set)
    """CVE ids whose enrichment changed (enrichment imports)."""

    @property
    def changed(self) -> bool:
        """True when the import created a database version."""
        return self.version is not None


class RecordsChangedWhileRead(Conflict):
    """Records an import found stored from the same bytes were written by another import
    before this one wrote them: run it again, it reads them."""

    def __init__(self, source: str, ids: Sequence[str]) -> None:
        shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        super().__init__(
            f"{source}: {len(ids)} stored advisories changed while the import read them "
            f"({shown}); nothing of {source} was written, run the import again"
        )
        self.source = source
        self.ids = list(ids)


@frozen
class KeyedAdvisory(EncodedAdvisory):
    """An `EncodedAdvisory` that carries the package keys its delta row names, made where it
    is serialized: in the parsing processes rather than by the single writer."""

    package_keys: tuple[tuple[str, str], ...] = ()
    """The distinct (ecosystem, name) of its entries, sorted."""


def encode_advisory(adv: Advisory, read_digest: str | None = None) -> KeyedAdvisory:
    """An advisory normalized once into what is stored: its content serialized with sorted
    keys is what the fingerprint hashes and, packed, what is stored."""
    return encode_content(canonical_content(adv), adv.modified, read_digest)


def encode_content(
    content: dict[str, Any], modified: datetime | None, read_digest: str | None = None
) -> KeyedAdvisory:
    """`encode_advisory` of content already normalized (`canonical_content`, or a record read
    straight into it: `feeds.osv_content`).

    Each affected entry is serialized once, keys sorted: those bytes are its stored row and,
    as a fragment, its place in the content's serialization (the same bytes as serializing
    the whole content). Serializing the entries a second time for their rows cost 0.399
    CPU-s here for the 18,050 records of the shared snapshot's JSON sources, once 0.354."""
    entries = content["affected"]
    dumps, fragment, sort = orjson.dumps, orjson.Fragment, orjson.OPT_SORT_KEYS
    serialized = [dumps(a, option=sort) for a in entries]
    blob = dumps({**content, "affected": [fragment(e) for e in serialized]}, option=sort)
    affected = tuple(
        [(a["ecosystem"], a["name"], e) for a, e in zip(entries, serialized, strict=True)]
    )
    return KeyedAdvisory(
        content["id"],
        hashlib.sha256(blob).hexdigest(),
        content["withdrawn"] is not None,
        modified,
        pack_content(blob),
        affected,
        read_digest,
        package_keys_of(affected),
    )


def package_keys_of(affected: Sequence[tuple[str, str, object]]) -> tuple[tuple[str, str], ...]:
    """The distinct (ecosystem, name) of affected entries, sorted."""
    if len(affected) == 1:  # most records outside the distributions' feeds
        eco, name, _ = affected[0]
        return ((eco, name),)
    return tuple(sorted({(eco, name) for eco, name, _ in affected}))


def row_from_content(content: dict[str, Any]) -> AdvisoryRow:
    """An advisory row rebuilt from its stored normalized content (see `canonical_content`)."""
    clean = {k: v for k, v in content.items() if k != "source"}
    digest = content_fingerprint(clean)
    affected = [(a["ecosystem"], a["name"], a) for a in clean.get("affected", [])]
    modified = datetime.fromisoformat(clean["modified"]) if clean.get("modified") else None
    withdrawn = clean.get("withdrawn") is not None
    return AdvisoryRow(str(clean["id"]), digest, withdrawn, modified, clean, affected)


def _enrichment_kind(record: object) -> str:
    if isinstance(record, KevEntry):
        return "kev"
    if isinstance(record, EpssScore):
        return "epss"
    if isinstance(record, NvdCvss):
        return "nvd"
    raise TypeError(f"not an enrichment record: {type(record).__name__}")


_FLAT: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in (KevEntry, EpssScore)
}
"""Enrichment records whose fields are plain values (text, numbers, dates)."""


def _content(record: KevEntry | EpssScore | NvdCvss) -> dict[str, Any]:
    """`dataclasses.asdict` of an enrichment record; for the flat ones without its deep copy
    of every value (0.021 CPU-s of 0.06 for the 1,404 entries of the KEV catalogue)."""
    names = _FLAT.get(type(record))
    if names is None:
        return dataclasses.asdict(record)
    return {name: getattr(record, name) for name in names}


_VOLATILE = {"epss": ("score_date", "model_version"), "nvd": ("last_modified",), "kev": ()}


def enrichment_fingerprint(kind: str, content: dict[str, Any]) -> str:
    """A hash of an enrichment record without its volatile fields (a new EPSS score date alone
    is not a change)."""
    stable = {k: v for k, v in content.items() if k not in _VOLATILE.get(kind, ())}
    return hashlib.sha256(orjson.dumps(stable, option=orjson.OPT_SORT_KEYS)).hexdigest()


class VulnDb:
    """The vulnerability database over SQL."""

    def __init__(
        self, store: Store, clock: Clock, account_id: str = DATA_ACCOUNT, region: str = "us-east-1"
    ) -> None:
        self.store = store
        self.clock = clock
        self.account_id = account_id
        self.region = region

    def apply(
        self,
        source: str,
        advisories: Iterable[Advisory],
        *,
        complete: bool = False,
        kind: str = "vulnerability",
        feed_version: int = 0,
        source_fingerprint: str | None = None,
    ) -> ImportResult:
        """Store a source's advisories; with `complete`, those it no longer lists are withdrawn."""
        return self.apply_rows(
            source,
            (encode_advisory(adv) for adv in advisories),
            complete=complete,
            kind=kind,
            feed_version=feed_version,
            source_fingerprint=source_fingerprint,
        )

    def apply_rows(
        self,
        source: str,
        rows: Iterable[AdvisoryRow | EncodedAdvisory | KnownRecord],
        *,
        complete: bool = False,
        kind: str = "vulnerability",
        feed_version: int = 0,
        source_fingerprint: str | None = None,
    ) -> ImportResult:
        """`apply` for advisories already normalized (parsing processes, offline bundles), and
        records found stored from the same bytes (`KnownRecord`: unchanged, not read again).

        Only fingerprints are read to find what changed; the package keys of stored
        advisories are read for the changed ones alone (the delta names keys before and after).
        Raises `RecordsChangedWhileRead` when a known record's stored advisory no longer has
        the digest it was found by (another import wrote it since): nothing is written.
        """
        incoming: dict[str, EncodedAdvisory] = {}
        known: dict[str, str] = {}  # id -> the read digest it was found stored with
        for row in rows:  # a later record with the same id wins
            if isinstance(row, KnownRecord):
                known[row.id] = row.read_digest
                incoming.pop(row.id, None)
                continue
            encoded = row if isinstance(row, EncodedAdvisory) else encode(row)
            incoming[encoded.id] = encoded
            known.pop(encoded.id, None)
        result = ImportResult(source)
        now = self.clock.now()
        with self.store.write() as uow:
            repo = uow.vulns
            stored = repo.stored_fingerprints(source)
            digests = repo.stored_read_digests(source)
            moved = sorted(aid for aid, digest in known.items() if digests.get(aid) != digest)
            if moved:
                raise RecordsChangedWhileRead(source, moved)
            result.unchanged = len(known)
            to_write: list[EncodedAdvisory] = []
            refreshed: list[tuple[str, str]] = []  # unchanged content, bytes read differently
            for aid, row in incoming.items():
                old = stored.get(aid)
                if old is not None and old[0] == row.fingerprint:
                    result.unchanged += 1
                    if row.read_digest is not None and digests.get(aid) != row.read_digest:
                        refreshed.append((aid, row.read_digest))
                else:
                    to_write.append(row)
            repo.set_read_digests(source, refreshed)
            replaced = [r.id for r in to_write if r.id in stored]
            removed = [
                aid
                for aid, (_fp, withdrawn) in stored.items()
                if complete and aid not in incoming and aid not in known and not withdrawn
            ]
            old_keys = repo.stored_package_keys(source, replaced + removed)
            changes: list[Change] = []
            touched = result.package_keys
            for row in to_write:
                aid = row.id
                before = stored.get(aid)
                own = (
                    row.package_keys
                    if type(row) is KeyedAdvisory
                    else package_keys_of(row.affected)
                )
                if before is None:  # all of a first import: the keys as the row brings them
                    result.added.append(aid)
                    if row.withdrawn:  # new but already withdrawn: it can match nothing
                        changes.append(Change(aid, "added", ()))
                        continue
                    changes.append(Change(aid, "added", own))
                    touched.update(own)
                    continue
                keys = old_keys.get(aid, frozenset()).union(own)
                if row.withdrawn and not before[1]:
                    change = "withdrawn"
                    result.withdrawn.append(aid)
                else:
                    change = "modified"
                    result.modified.append(aid)
                changes.append(Change(aid, change, sorted(keys)))
                touched |= keys
            for aid in removed:
                gone = old_keys.get(aid, frozenset())
                result.withdrawn.append(aid)
                changes.append(Change(aid, "withdrawn", sorted(gone)))
                result.package_keys |= gone
            if changes:
                summary = {
                    "added": len(result.added),
                    "modified": len(result.modified),
                    "withdrawn": len(result.withdrawn),
                }
                result.version = repo.new_version(source, summary, now)
                repo.delete_advisories(source, replaced + removed)
                repo.insert_advisories(source, to_write, result.version)
                repo.record_changes(result.version, source, changes)
                self._event(uow, result, now)
            done = SourceImport(
                kind=kind,
                records=len(stored) + len(to_write) - len(replaced) - len(removed),
                at=now,
                changed=bool(changes),
                feed_version=feed_version,
                fingerprint=source_fingerprint,
            )
            repo.record_import(source, done)
        logger.info(
            "import %s: %d added, %d modified, %d withdrawn, %d unchanged",
            source,
            len(result.added),
            len(result.modified),
            len(result.withdrawn),
            result.unchanged,
        )
        return result

    def apply_enrichment(
        self,
        source: str,
        records: Iterable[KevEntry | EpssScore | NvdCvss],
        source_fingerprint: str | None = None,
    ) -> ImportResult:
        """Store enrichment records keyed by CVE; the delta names the CVEs that changed."""
        return self.apply_enrichment_rows(
            source,
            ((_enrichment_kind(r), r.cve_id, _content(r)) for r in records),
            source_fingerprint,
        )

    def apply_enrichment_rows(
        self,
        source: str,
        rows: Iterable[tuple[str, str, dict[str, Any]]],
        source_fingerprint: str | None = None,
    ) -> ImportResult:
        """`apply_enrichment` for (kind, cve id, content) rows (offline bundles)."""
        by_kind: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
        for kind, cve, content in rows:
            by_kind.setdefault(kind, {})[cve] = (enrichment_fingerprint(kind, content), content)
        result = ImportResult(source)
        now = self.clock.now()
        with self.store.write() as uow:
            repo = uow.vulns
            writes: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
            for kind, incoming in by_kind.items():
                stored = repo.enrichment_fingerprints(kind)
                for cve, (fp, content) in incoming.items():
                    if stored.get(cve) == fp:
                        result.unchanged += 1
                        continue
                    writes.setdefault(kind, []).append((cve, fp, content))
                    result.cves.add(cve)
                    (result.modified if cve in stored else result.added).append(cve)
            if result.cves:
                summary = {"cves": len(result.cves)}
                result.version = repo.new_version(source, summary, now)
                for kind, rows in writes.items():
                    repo.write_enrichment(kind, rows, result.version)
                self._event(uow, result, now)
            done = SourceImport(
                kind="enrichment",
                records=sum(len(v) for v in by_kind.values()),
                at=now,
                changed=bool(result.cves),
                fingerprint=source_fingerprint or None,
            )
            repo.record_import(source, done)
        return result

    def heartbeat(self, source: str) -> None:
        """A fetch found nothing new upstream: the source is fresh as of now."""
        with self.store.write() as uow:
            uow.vulns.record_heartbeat(source, self.clock.now())

    def record_failure(self, source: str, error: str) -> None:
        """Remember a failed fetch or import; the data stays as it was."""
        with self.store.write() as uow:
            uow.vulns.record_failure(source, error, self.clock.now())

    def is_empty(self) -> bool:
        """True before the first import (no advisory stored)."""
        with self.store.read() as uow:
            return uow.vulns.count_advisories() == 0

    def acquire_sync_lease(self, holder: str, ttl: timedelta) -> bool:
        """Take (or renew) the one feed-sync lease shared by the server and `db sync`; also
        from a holder of this host that is gone (`sync_lease.left_by_a_dead_process`)."""
        now = self.clock.now()
        gone: list[str] = []

        def left(other: str) -> bool:
            if left_by_a_dead_process(other):
                gone.append(other)
                return True
            return False

        with self.store.write() as uow:
            taken = uow.vulns.acquire_lease(SYNC_LEASE, holder, now, now + ttl, left)
        if taken and gone:
            logger.warning(
                "feed-sync lease taken over from %s: that process is gone (stopped in a sync)",
                gone[0],
            )
        return taken

    def sync_lease(self) -> tuple[str, datetime] | None:
        """Who holds the feed-sync lease, and until when (None when nobody holds it)."""
        with self.store.read() as uow:
            held = uow.vulns.lease(SYNC_LEASE)
        if held is None or held[1] <= self.clock.now():
            return None
        return held

    def release_sync_lease(self, holder: str) -> None:
        """Give the feed-sync lease back."""
        with self.store.write() as uow:
            uow.vulns.release_lease(SYNC_LEASE, holder)

    def _event(self, uow: UnitOfWork, result: ImportResult, now: datetime) -> None:
        assert result.version is not None  # called right after creating the version
        uow.outbox.append(
            AdvisoriesChanged(
                Tenant(self.account_id, self.region),
                now,
                version=result.version,
                source=result.source,
                added=tuple(sorted(result.added)),
                modified=tuple(sorted(result.modified)),
                withdrawn=tuple(sorted(result.withdrawn)),
                package_keys=tuple(sorted(result.package_keys)),
                cves=tuple(sorted(result.cves)),
            )
        )

    def status(self, stale_after: timedelta = DEFAULT_STALE_AFTER) -> dict[str, Any]:
        """The shape `dockwatch db status --json` prints; a source whose last success is older
        than `stale_after` (or that never succeeded) is `stale`."""
        now = self.clock.now()
        with self.store.read() as uow:
            repo = uow.vulns
            version = repo.current_version()
            created = repo.version_created_at(version) if version else None
            sources = []
            for s in repo.sources():
                age = None if s.last_success_at is None else now - s.last_success_at
                sources.append(
                    {
                        "name": s.name,
                        "kind": s.kind,
                        "advisories": s.records,
                        "updatedAt": iso(s.last_change_at or s.last_success_at),
                        "lastSuccessAt": iso(s.last_success_at),
                        "lastAttemptAt": iso(s.last_attempt_at),
                        "lastError": s.last_error,
                        "lastErrorAt": iso(s.last_error_at),
                        "ageSeconds": None if age is None else int(age.total_seconds()),
                        "stale": age is None or age > stale_after,
                    }
                )
            total = repo.count_advisories()
        return {
            "version": version,
            "builtAt": iso(created),
            "advisories": total,
            "sources": sources,
        }
