"""The unit of work: one transaction, and every repository acting inside it.

Services receive a `Store` and open a unit of work for each thing they do, so that a state change
and the outbox event reporting it commit together (or not at all). `read()` is a consistent
snapshot; `write()` is the one writer (SQLite) or a transaction (PostgreSQL). Nothing outside
`storage/` sees a connection, a table or SQL: this protocol is the whole contract, and a backend
is a new implementation of it (`storage/sql/unit_of_work.py` is the SQL one).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from dockwatch.storage.account_repo import AccountRepo
from dockwatch.storage.audit_repo import AuditRepo
from dockwatch.storage.catalog_repo import CatalogRepo
from dockwatch.storage.ecr_repo import EcrRepo
from dockwatch.storage.finding_query_repo import FindingQueryRepo
from dockwatch.storage.finding_repo import FindingRepo
from dockwatch.storage.job_queue import JobQueueRepo
from dockwatch.storage.organization_repo import OrganizationRepo
from dockwatch.storage.outbox import Outbox
from dockwatch.storage.pull_policy_repo import PullPolicyRepo
from dockwatch.storage.registry_repo import RegistryRepo
from dockwatch.storage.scan_repo import ScanRepo
from dockwatch.storage.tenancy_repo import TenancyRepo
from dockwatch.storage.vuln_repo import VulnRepo
from dockwatch.storage.webhook_repo import WebhookRepo


class UnitOfWork(Protocol):
    """The repositories of one transaction."""

    @property
    def registry(self) -> RegistryRepo: ...

    @property
    def catalog(self) -> CatalogRepo: ...

    @property
    def vulns(self) -> VulnRepo: ...

    @property
    def scans(self) -> ScanRepo: ...

    @property
    def findings(self) -> FindingRepo: ...

    @property
    def finding_queries(self) -> FindingQueryRepo: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def jobs(self) -> JobQueueRepo: ...

    @property
    def webhooks(self) -> WebhookRepo: ...

    @property
    def accounts(self) -> AccountRepo: ...

    @property
    def pull_policies(self) -> PullPolicyRepo: ...

    @property
    def audit(self) -> AuditRepo: ...

    @property
    def ecr(self) -> EcrRepo: ...

    @property
    def tenancy(self) -> TenancyRepo: ...

    @property
    def organization(self) -> OrganizationRepo: ...


class WorkWaiter(Protocol):
    """Wakes an idle worker when work is announced (committed)."""

    def wait(self, timeout: float) -> bool:
        """Block until work is announced (True) or `timeout` seconds pass (False)."""
        ...

    def close(self) -> None:
        """Stop listening."""
        ...


class Store(Protocol):
    """Where metadata lives; hands out units of work."""

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`: for the few decisions that depend on the backend's
        concurrency (one writer or many)."""
        ...

    def read(self) -> AbstractContextManager[UnitOfWork]:
        """A consistent read-only snapshot."""
        ...

    def write(self) -> AbstractContextManager[UnitOfWork]:
        """A read-write transaction, committed when the block exits without error."""
        ...

    def singleton(self, name: str) -> AbstractContextManager[bool]:
        """Yields whether this process holds the named singleton for the block: a periodic
        pass that must run in one process of the cluster at a time runs only when True
        (PostgreSQL: an advisory lock; SQLite, one process: an in-process lock)."""
        ...

    def work_waiter(self) -> WorkWaiter | None:
        """A waiter woken when jobs are queued or events appended (at commit): by any process
        on PostgreSQL, by this process on SQLite (workers poll for the others), or None when
        the backend has none."""
        ...

    def bulk_writes(self) -> AbstractContextManager[None]:
        """A block in which large write transactions follow one another (an import): the
        backend may take its housekeeping off their commits, and finishes it by the block's
        end (SQLite: the log is copied into the database file beside them)."""
        ...

    def optimize(self) -> None:
        """Refresh the query planner's statistics where the backend wants it."""
        ...

    def close(self) -> None:
        """Release every connection."""
        ...
