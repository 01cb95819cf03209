"""Pull policies, allowances and the reads of a pull verdict in SQL (`storage.pull_policy_repo`
says what the rows mean)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, insert, or_, select, update

from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc
from dockwatch.storage.pull_policy_repo import AllowanceRecord, OpenFinding, PolicyRecord
from dockwatch.storage.sql import tables as t

_p, _a = t.pull_policies, t.pull_allowances


def _policy_tenant(tenant: Tenant) -> ColumnElement[bool]:
    return and_(_p.c.account_id == tenant.account_id, _p.c.region == tenant.region)


def _allowance_tenant(tenant: Tenant) -> ColumnElement[bool]:
    return and_(_a.c.account_id == tenant.account_id, _a.c.region == tenant.region)


def _policy(r: Any) -> PolicyRecord:
    return PolicyRecord(r.repository, json.loads(r.document), as_utc(r.updated_at))


def _allowance(r: Any) -> AllowanceRecord:
    return AllowanceRecord(
        r.id, r.repository, r.digest, r.reason, as_utc(r.expires_at), as_utc(r.created_at)
    )


class SqlPullPolicyRepo:
    """`storage.pull_policy_repo.PullPolicyRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def policies_for(self, tenant: Tenant, repository: str) -> list[PolicyRecord]:
        rows = self._conn.execute(
            select(_p).where(_policy_tenant(tenant), _p.c.repository.in_(["", repository]))
        )
        return [_policy(r) for r in rows]

    def get_policy(self, tenant: Tenant, repository: str) -> PolicyRecord | None:
        row = self._conn.execute(
            select(_p).where(_policy_tenant(tenant), _p.c.repository == repository)
        ).first()
        return None if row is None else _policy(row)

    def put_policy(
        self, tenant: Tenant, repository: str, document: dict[str, Any], at: datetime
    ) -> None:
        doc = json.dumps(document, sort_keys=True)
        changed = self._conn.execute(
            update(_p)
            .where(_policy_tenant(tenant), _p.c.repository == repository)
            .values(document=doc, updated_at=at)
        ).rowcount
        if not changed:
            self._conn.execute(
                insert(_p).values(
                    account_id=tenant.account_id,
                    region=tenant.region,
                    repository=repository,
                    document=doc,
                    updated_at=at,
                )
            )

    def delete_policy(self, tenant: Tenant, repository: str) -> bool:
        result = self._conn.execute(
            delete(_p).where(_policy_tenant(tenant), _p.c.repository == repository)
        )
        return bool(result.rowcount)

    def add_allowance(self, tenant: Tenant, allowance: AllowanceRecord) -> None:
        self._conn.execute(
            insert(_a).values(
                id=allowance.id,
                account_id=tenant.account_id,
                region=tenant.region,
                repository=allowance.repository,
                digest=allowance.digest,
                reason=allowance.reason,
                expires_at=allowance.expires_at,
                created_at=allowance.created_at,
            )
        )

    def list_allowances(
        self, tenant: Tenant, repository: str | None, after: str | None, limit: int
    ) -> list[AllowanceRecord]:
        query = select(_a).where(_allowance_tenant(tenant)).order_by(_a.c.id).limit(limit)
        if repository is not None:
            query = query.where(_a.c.repository == repository)
        if after is not None:
            query = query.where(_a.c.id > after)
        return [_allowance(r) for r in self._conn.execute(query)]

    def get_allowance(self, tenant: Tenant, allowance_id: str) -> AllowanceRecord | None:
        row = self._conn.execute(
            select(_a).where(_allowance_tenant(tenant), _a.c.id == allowance_id)
        ).first()
        return None if row is None else _allowance(row)

    def delete_allowance(self, tenant: Tenant, allowance_id: str) -> bool:
        result = self._conn.execute(
            delete(_a).where(_allowance_tenant(tenant), _a.c.id == allowance_id)
        )
        return bool(result.rowcount)

    def allowance_in_force(
        self, tenant: Tenant, repository: str, digests: Sequence[str], now: datetime
    ) -> AllowanceRecord | None:
        if not digests:
            return None
        row = self._conn.execute(
            select(_a)
            .where(
                _allowance_tenant(tenant),
                _a.c.repository == repository,
                _a.c.digest.in_(list(digests)),
                _a.c.expires_at > now,
            )
            .order_by(_a.c.expires_at.desc(), _a.c.id)
            .limit(1)
        ).first()
        return None if row is None else _allowance(row)

    def parent_digests(self, repository_id: int, digest: str) -> list[str]:
        m, ref = t.manifests, t.manifest_references
        rows = self._conn.execute(
            select(m.c.digest)
            .join(ref, ref.c.manifest_id == m.c.id)
            .where(m.c.repository_id == repository_id, ref.c.digest == digest)
            .where(ref.c.kind == "manifest")
        )
        return sorted({r.digest for r in rows})

    def open_findings(self, repository_id: int, digest: str) -> list[OpenFinding]:
        f, dp = t.findings, t.detail_packages
        rows = self._conn.execute(
            select(
                f.c.vulnerability_id,
                f.c.severity,
                f.c.exploit_available,
                f.c.status,
                f.c.suppressed_by,
                dp.c.name,
            )
            .outerjoin(dp, and_(dp.c.detail_ref == f.c.detail_ref, dp.c.seq == 0))
            .where(
                f.c.repository_id == repository_id,
                f.c.digest == digest,
                or_(f.c.status == "ACTIVE", f.c.status == "SUPPRESSED"),
            )
            .order_by(f.c.severity_rank.desc(), f.c.vulnerability_id)
        )
        return [
            OpenFinding(
                r.vulnerability_id, r.severity, r.exploit_available, r.status, r.suppressed_by,
                r.name,
            )
            for r in rows
        ]  # fmt: skip

    def rule_ids_in_force(self, tenant: Tenant, now: datetime) -> frozenset[str]:
        r = t.suppression_rules
        rows = self._conn.execute(
            select(r.c.id).where(
                r.c.account_id == tenant.account_id,
                r.c.region == tenant.region,
                r.c.action == "SUPPRESS",
                or_(r.c.expires_at.is_(None), r.c.expires_at > now),
            )
        )
        return frozenset(row.id for row in rows)
