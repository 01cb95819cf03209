"""Scanning jobs as typed values, and their durable queue.

Each job is a frozen dataclass with one handler in the worker; `encode` / `decode` turn it into
the kind + JSON document the queue stores (`storage.job_queue.JobQueueRepo`). Each queued job
has an idempotency key (a push event id, an image resource plus database version for a
re-match, ...), so overlapping triggers collapse into one job. A job found running when the
server starts belonged to a killed process and is queued again.

An image job carries the tenant (account, region) whose image it names, and the worker runs
it with that tenant's services; a document without `accountId` (queued by an older version,
or a job built without a tenant) belongs to the worker's default tenant. `ApplyDelta` has no
tenant: advisories are global, and its handler rescans the affected images of every tenant.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from dockwatch.clock import Clock
from dockwatch.errors import InvalidInput
from dockwatch.model.identity import Tenant
from dockwatch.storage.job_queue import DEFAULT_LEASE, JobQueueRepo, JobState
from dockwatch.storage.unit_of_work import Store
from dockwatch.value_class import frozen

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


@frozen
class ScanImage:
    """Catalogue (through the layer cache) and match one image resource."""

    kind: ClassVar[str] = "scan"
    repository: str
    digest: str
    tenant: Tenant | None = None
    """Whose image (None: the worker's default tenant)."""


@frozen
class Recatalogue:
    """Scan an image again because the catalogers changed since its inventory was made."""

    kind: ClassVar[str] = "recatalogue"
    repository: str
    digest: str
    tenant: Tenant | None = None
    """Whose image (None: the worker's default tenant)."""


@frozen
class RematchImage:
    """Match an image resource again from its stored inventory (no layer is read)."""

    kind: ClassVar[str] = "rematch"
    repository: str
    digest: str
    tenant: Tenant | None = None
    """Whose image (None: the worker's default tenant)."""


@frozen
class DeleteImage:
    """Close the findings and drop the coverage of a deleted image resource."""

    kind: ClassVar[str] = "delete"
    repository: str
    digest: str
    tenant: Tenant | None = None
    """Whose image (None: the worker's default tenant)."""


@frozen
class ApplyDelta:
    """Re-evaluate the monitored images one advisory delta can touch (`scan/rescan.py`)."""

    kind: ClassVar[str] = "delta"
    version: int
    source: str
    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    withdrawn: tuple[str, ...] = ()
    package_keys: tuple[tuple[str, str], ...] = ()
    """(ecosystem, name) keys of the packages the changed advisories name."""
    cves: tuple[str, ...] = ()
    """CVEs whose enrichment (KEV, EPSS, NVD scores) changed."""
    shard: int = 0
    shards: int = 1
    """This job re-evaluates the images whose bucket is `shard` modulo `shards`
    (`storage/image_buckets.py`); the update's other shards are jobs of their own."""

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> ApplyDelta:
        """From an `AdvisoriesChanged` payload (the queue stores the same document, with the
        shard of a split update)."""
        shards, shard = int(doc.get("shards", 1)), int(doc.get("shard", 0))
        if not (shards >= 1 and 0 <= shard < shards):
            raise ValueError(f"shard {shard} of {shards}")
        return cls(
            version=int(doc.get("version") or 0),
            source=str(doc.get("source") or ""),
            added=tuple(str(a) for a in doc.get("added") or ()),
            modified=tuple(str(a) for a in doc.get("modified") or ()),
            withdrawn=tuple(str(a) for a in doc.get("withdrawn") or ()),
            package_keys=tuple((str(k[0]), str(k[1])) for k in doc.get("packageKeys") or ()),
            cves=tuple(str(c) for c in doc.get("cves") or ()),
            shard=shard,
            shards=shards,
        )

    def to_document(self) -> dict[str, Any]:
        """The inverse of `from_document`."""
        doc: dict[str, Any] = {
            "version": self.version,
            "source": self.source,
            "added": list(self.added),
            "modified": list(self.modified),
            "withdrawn": list(self.withdrawn),
            "packageKeys": [list(k) for k in self.package_keys],
            "cves": list(self.cves),
        }
        if self.shards > 1:
            doc |= {"shard": self.shard, "shards": self.shards}
        return doc

    def split(self, shards: int) -> list[ApplyDelta]:
        """The update's `shards` jobs (itself when 1)."""
        if shards <= 1:
            return [self]
        return [dataclasses.replace(self, shard=k, shards=shards) for k in range(shards)]

    @property
    def key(self) -> str:
        """The job's idempotency key: one per database version (and shard)."""
        own = f"delta:{self.version}:{self.source}"
        return own if self.shards == 1 else f"{own}:{self.shard}/{self.shards}"


ImageJob = ScanImage | Recatalogue | RematchImage | DeleteImage
Job = ImageJob | ApplyDelta
_IMAGE_JOBS: dict[str, type[ImageJob]] = {
    c.kind: c for c in (ScanImage, Recatalogue, RematchImage, DeleteImage)
}


class UnknownJob(InvalidInput):
    """A queued job of a kind (or shape) this version does not know."""


def encode(job: Job) -> str:
    """The JSON document the queue stores for `job`."""
    if isinstance(job, ApplyDelta):
        return json.dumps(job.to_document())
    doc = {"repository": job.repository, "digest": job.digest}
    if job.tenant is not None:
        doc |= {"accountId": job.tenant.account_id, "region": job.tenant.region}
    return json.dumps(doc)


def decode(kind: str, document: str) -> Job:
    """The job a queued (kind, document) holds."""
    try:
        doc = json.loads(document)
        if kind == ApplyDelta.kind:
            return ApplyDelta.from_document(doc)
        tenant = None
        if doc.get("accountId") is not None:
            tenant = Tenant(str(doc["accountId"]), str(doc["region"]))
        return _IMAGE_JOBS[kind](str(doc["repository"]), str(doc["digest"]), tenant)
    except (KeyError, TypeError, ValueError) as exc:
        raise UnknownJob(f"queued job {kind!r} cannot be read: {exc}") from exc


def enqueue(jobs: JobQueueRepo, job: Job, key: str, at: datetime) -> bool:
    """Queue `job` under the idempotency `key` unless a job with that key exists."""
    return jobs.enqueue(job.kind, key, encode(job), at)


@frozen
class ClaimedJob:
    """A job taken from the queue."""

    id: int
    key: str
    attempts: int
    job: Job


class JobQueue:
    """Claim, finish and recover jobs; a claim is a lease (`lease`), renewed by `heartbeat`."""

    def __init__(self, store: Store, clock: Clock, lease: timedelta = DEFAULT_LEASE) -> None:
        self.store = store
        self.clock = clock
        self.lease = lease

    def recover(self) -> int:
        """Requeue jobs left running by a killed server; returns how many."""
        with self.store.write() as uow:
            return uow.jobs.recover(self.clock.now())

    def claim(self) -> ClaimedJob | None:
        """The oldest queued job, now running (a job that cannot be read is failed at once)."""
        while True:
            with self.store.write() as uow:
                queued = uow.jobs.claim(self.clock.now(), self.lease)
                if queued is None:
                    return None
                try:
                    job = decode(queued.kind, queued.document)
                except UnknownJob as exc:
                    uow.jobs.finish(queued.id, JobState.FAILED, str(exc), self.clock.now())
                    continue
            return ClaimedJob(queued.id, queued.key, queued.attempts, job)

    def finish(self, job: ClaimedJob, error: str | None = None) -> None:
        """Mark a job done, or failed (queued again until it has failed MAX_ATTEMPTS times)."""
        if error is None:
            state = JobState.DONE
        else:
            state = JobState.FAILED if job.attempts >= MAX_ATTEMPTS else JobState.QUEUED
        with self.store.write() as uow:
            uow.jobs.finish(job.id, state, error, self.clock.now(), attempt=job.attempts)

    @contextlib.contextmanager
    def heartbeat(self, job: ClaimedJob) -> Iterator[None]:
        """Renew `job`'s lease every third of it while the block runs. Only on PostgreSQL,
        where another worker claims a job whose lease expired; SQLite serves one process."""
        if self.store.dialect != "postgresql":
            yield
            return
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.lease.total_seconds() / 3):
                try:
                    with self.store.write() as uow:
                        held = uow.jobs.renew(job.id, job.attempts, self.clock.now() + self.lease)
                except Exception:  # the next beat retries; the lease is a third long yet
                    logger.exception("could not renew the lease of job %s", job.id)
                    continue
                if not held:
                    logger.warning("job %s: lease lost to another worker", job.id)
                    return

        thread = threading.Thread(target=beat, name=f"job-{job.id}-lease", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def depth(self) -> dict[str, int]:
        """Jobs per state (for /metrics)."""
        with self.store.read() as uow:
            return uow.jobs.depth()
