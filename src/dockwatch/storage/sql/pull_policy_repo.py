"""Pull policies, allowances and the reads of a pull verdict in SQL (`storage.pull_policy_repo`
says what the rows mean)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc
from dockwatch.storage.pull_policy_repo import AllowanceRecord, OpenFinding, PolicyRecord
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.schema.findings import IMAGE_KEY_LENGTH, IMAGE_KEY_START

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


# The statements a pull runs, built once: on every manifest GET only their parameters change.
_POLICIES = select(_p).where(
    _p.c.account_id == bindparam("account"),
    _p.c.region == bindparam("region"),
    or_(_p.c.repository == "", _p.c.repository == bindparam("repository")),
)
_PARENTS = (
    select(t.manifests.c.digest)
    .join(t.manifest_references, t.manifest_references.c.manifest_id == t.manifests.c.id)
    .where(
        t.manifests.c.repository_id == bindparam("repo_id"),
        t.manifest_references.c.digest == bindparam("image"),
        t.manifest_references.c.kind == "manifest",
    )
)
_ALLOWANCE = (
    select(_a)
    .where(
        _a.c.account_id == bindparam("account"),
        _a.c.region == bindparam("region"),
        _a.c.repository == bindparam("repository"),
        _a.c.expires_at > bindparam("now"),
        or_(
            _a.c.digest == bindparam("image"),
            _a.c.digest == bindparam("served"),
            _a.c.digest.in_(_PARENTS.scalar_subquery()),
        ),
    )
    .order_by(_a.c.expires_at.desc(), _a.c.id)
    .limit(1)
)
_f, _dp = t.findings, t.detail_packages
_OPEN_FINDINGS = (
    select(
        _f.c.vulnerability_id,
        _f.c.severity,
        _f.c.exploit_available,
        _f.c.status,
        _f.c.suppressed_by,
        _dp.c.name,
    )
    .outerjoin(_dp, and_(_dp.c.detail_ref == _f.c.detail_ref, _dp.c.seq == 0))
    .where(
        _f.c.repository_id == bindparam("repo_id"),
        # the image key seeks `ix_findings_image`; the digest tells images sharing it apart
        _f.c.image_key == func.substr(bindparam("digest"), IMAGE_KEY_START, IMAGE_KEY_LENGTH),
        _f.c.digest == bindparam("digest"),
        _f.c.status.in_(["ACTIVE", "SUPPRESSED"]),
    )
    .order_by(_f.c.severity_rank.desc(), _f.c.vulnerability_id)
)
_r = t.suppression_rules
_RULES_IN_FORCE = select(_r.c.id).where(
    _r.c.account_id == bindparam("account"),
    _r.c.region == bindparam("region"),
    _r.c.action == "SUPPRESS",
    or_(_r.c.expires_at.is_(None), _r.c.expires_at > bindparam("now")),
)


class SqlPullPolicyRepo:
    """`storage.pull_policy_repo.PullPolicyRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def policies_for(self, tenant: Tenant, repository: str) -> list[PolicyRecord]:
        rows = self._conn.execute(
            _POLICIES,
            {"account": tenant.account_id, "region": tenant.region, "repository": repository},
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

    def allowance_for_image(
        self,
        tenant: Tenant,
        repository: str,
        repository_id: int,
        image_digest: str,
        served_digest: str,
        now: datetime,
    ) -> AllowanceRecord | None:
        row = self._conn.execute(
            _ALLOWANCE,
            {"account": tenant.account_id, "region": tenant.region, "repository": repository,
             "repo_id": repository_id, "image": image_digest, "served": served_digest,
             "now": now},
        ).first()  # fmt: skip
        return None if row is None else _allowance(row)

    def open_findings(self, repository_id: int, digest: str) -> list[OpenFinding]:
        rows = self._conn.execute(_OPEN_FINDINGS, {"repo_id": repository_id, "digest": digest})
        return [
            OpenFinding(
                r.vulnerability_id, r.severity, r.exploit_available, r.status, r.suppressed_by,
                r.name,
            )
            for r in rows
        ]  # fmt: skip

    def rule_ids_in_force(self, tenant: Tenant, now: datetime) -> frozenset[str]:
        rows = self._conn.execute(
            _RULES_IN_FORCE, {"account": tenant.account_id, "region": tenant.region, "now": now}
        )
        return frozenset(row.id for row in rows)
