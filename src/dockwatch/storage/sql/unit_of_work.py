"""The SQL unit of work: one connection in one transaction, and the repositories bound to it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import cached_property

from sqlalchemy import Connection

from dockwatch.storage.sql.account_repo import SqlAccountRepo
from dockwatch.storage.sql.audit_repo import SqlAuditRepo
from dockwatch.storage.sql.catalog_repo import SqlCatalogRepo
from dockwatch.storage.sql.coordination import (
    LocalWorkWaiter,
    WorkWaiter,
    singleton,
    wake_local_waiters,
)
from dockwatch.storage.sql.ecr_repo import SqlEcrRepo
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.finding_query_repo import SqlFindingQueryRepo
from dockwatch.storage.sql.finding_repo import SqlFindingRepo
from dockwatch.storage.sql.job_queue import ANNOUNCED, SqlJobQueueRepo
from dockwatch.storage.sql.organization_repo import SqlOrganizationRepo
from dockwatch.storage.sql.outbox import SqlOutbox
from dockwatch.storage.sql.pull_policy_repo import SqlPullPolicyRepo
from dockwatch.storage.sql.registry_repo import SqlRegistryRepo
from dockwatch.storage.sql.scan_repo import SqlScanRepo
from dockwatch.storage.sql.tenancy_repo import SqlTenancyRepo
from dockwatch.storage.sql.vuln_repo import SqlVulnRepo
from dockwatch.storage.sql.webhook_repo import SqlWebhookRepo


class SqlUnitOfWork:
    """Implements `storage.unit_of_work.UnitOfWork` over one SQLAlchemy connection.

    Repositories are built on first use: a unit of work that touches one aggregate pays for one.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @cached_property
    def registry(self) -> SqlRegistryRepo:
        return SqlRegistryRepo(self.conn)

    @cached_property
    def catalog(self) -> SqlCatalogRepo:
        return SqlCatalogRepo(self.conn)

    @cached_property
    def vulns(self) -> SqlVulnRepo:
        return SqlVulnRepo(self.conn)

    @cached_property
    def scans(self) -> SqlScanRepo:
        return SqlScanRepo(self.conn)

    @cached_property
    def findings(self) -> SqlFindingRepo:
        return SqlFindingRepo(self.conn)

    @cached_property
    def finding_queries(self) -> SqlFindingQueryRepo:
        return SqlFindingQueryRepo(self.conn)

    @cached_property
    def outbox(self) -> SqlOutbox:
        return SqlOutbox(self.conn)

    @cached_property
    def jobs(self) -> SqlJobQueueRepo:
        return SqlJobQueueRepo(self.conn)

    @cached_property
    def webhooks(self) -> SqlWebhookRepo:
        return SqlWebhookRepo(self.conn)

    @cached_property
    def accounts(self) -> SqlAccountRepo:
        return SqlAccountRepo(self.conn)

    @cached_property
    def pull_policies(self) -> SqlPullPolicyRepo:
        return SqlPullPolicyRepo(self.conn)

    @cached_property
    def audit(self) -> SqlAuditRepo:
        return SqlAuditRepo(self.conn)

    @cached_property
    def ecr(self) -> SqlEcrRepo:
        return SqlEcrRepo(self.conn)

    @cached_property
    def tenancy(self) -> SqlTenancyRepo:
        return SqlTenancyRepo(self.conn)

    @cached_property
    def organization(self) -> SqlOrganizationRepo:
        return SqlOrganizationRepo(self.conn)


class SqlStore:
    """Implements `storage.unit_of_work.Store` over a `Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def dialect(self) -> str:
        return "sqlite" if self.db.is_sqlite else "postgresql"

    @contextlib.contextmanager
    def read(self) -> Iterator[SqlUnitOfWork]:
        with self.db.read() as conn:
            yield SqlUnitOfWork(conn)

    @contextlib.contextmanager
    def write(self) -> Iterator[SqlUnitOfWork]:
        announced = False
        with self.db.write() as conn:
            try:
                yield SqlUnitOfWork(conn)
            finally:  # the mark lives on the pooled connection: never leave it for the next
                announced = bool(conn.info.pop(ANNOUNCED, False))
        if announced:  # committed (a rolled-back block raised above): wake idle workers
            wake_local_waiters(str(self.db.engine.url))

    def singleton(self, name: str) -> contextlib.AbstractContextManager[bool]:
        return singleton(self.db.engine, name)

    def work_waiter(self) -> WorkWaiter | LocalWorkWaiter:
        if self.db.is_sqlite:
            return LocalWorkWaiter(str(self.db.engine.url))
        return WorkWaiter(self.db.engine)

    def bulk_writes(self) -> contextlib.AbstractContextManager[None]:
        return self.db.bulk_writes()

    def optimize(self) -> None:
        self.db.optimize()

    def close(self) -> None:
        self.db.close()
