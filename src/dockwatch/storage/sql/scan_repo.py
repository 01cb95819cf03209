"""SQL for scanning: settings, per-image scan state, inventories, the reverse index, findings."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select, tuple_, update

from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.registry_repo import Tenant
from dockwatch.storage.sql.timeutil import as_utc, as_utc_or_none


def load_settings(conn: Connection, tenant: Tenant) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(scanning configuration, ecr configuration) as stored, or None for the defaults."""
    s = t.scan_settings
    row = conn.execute(
        select(s.c.scanning_configuration, s.c.ecr_configuration).where(
            s.c.account_id == tenant.account_id, s.c.region == tenant.region
        )
    ).first()
    if row is None:
        return None
    return json.loads(row.scanning_configuration), json.loads(row.ecr_configuration)


def save_settings(
    conn: Connection, tenant: Tenant, scanning: dict[str, Any], ecr: dict[str, Any], at: datetime
) -> None:
    """Store both configurations."""
    s = t.scan_settings
    values = {
        "scanning_configuration": json.dumps(scanning),
        "ecr_configuration": json.dumps(ecr),
        "updated_at": at,
    }
    n = conn.execute(
        update(s)
        .where(s.c.account_id == tenant.account_id, s.c.region == tenant.region)
        .values(**values)
    ).rowcount
    if not n:
        conn.execute(insert(s).values(account_id=tenant.account_id, region=tenant.region, **values))


@dataclass(frozen=True, slots=True)
class ScanState:
    """An image resource's scan status."""

    repository_id: int
    digest: str
    scan_type: str
    status_code: str
    reason: str
    last_scanned_at: datetime | None
    db_version: int
    os_ecosystem: str | None
    unsupported_os: str | None


def get_scan(conn: Connection, repository_id: int, digest: str) -> ScanState | None:
    """The scan state of one image resource."""
    s = t.image_scans
    r = conn.execute(
        select(s).where(s.c.repository_id == repository_id, s.c.digest == digest)
    ).first()
    if r is None:
        return None
    return ScanState(
        r.repository_id, r.digest, r.scan_type, r.status_code, r.reason,
        as_utc_or_none(r.last_scanned_at), r.db_version, r.os_ecosystem, r.unsupported_os,
    )  # fmt: skip


def put_scan(conn: Connection, tenant: Tenant, state: ScanState, at: datetime) -> None:
    """Create or replace an image resource's scan state."""
    s = t.image_scans
    values = {
        "scan_type": state.scan_type,
        "status_code": state.status_code,
        "reason": state.reason,
        "last_scanned_at": state.last_scanned_at,
        "db_version": state.db_version,
        "os_ecosystem": state.os_ecosystem,
        "unsupported_os": state.unsupported_os,
        "updated_at": at,
    }
    n = conn.execute(
        update(s)
        .where(s.c.repository_id == state.repository_id, s.c.digest == state.digest)
        .values(**values)
    ).rowcount
    if not n:
        conn.execute(
            insert(s).values(
                account_id=tenant.account_id,
                region=tenant.region,
                repository_id=state.repository_id,
                digest=state.digest,
                **values,
            )
        )


def set_basic_result(
    conn: Connection,
    repository_id: int,
    digest: str,
    findings: list[dict[str, Any]] | None,
    manual_at: datetime | None,
) -> None:
    """Store a basic scan's findings (ECR's basic shape), and when a manual scan was asked."""
    s = t.image_scans
    values: dict[str, Any] = {}
    if findings is not None:
        values["basic_findings"] = orjson.dumps(findings)
    if manual_at is not None:
        values["last_manual_scan_at"] = manual_at
    if values:
        conn.execute(
            update(s)
            .where(s.c.repository_id == repository_id, s.c.digest == digest)
            .values(**values)
        )


def basic_result(
    conn: Connection, repository_id: int, digest: str
) -> tuple[list[dict[str, Any]] | None, datetime | None]:
    """(basic findings, last manual scan time) of an image resource."""
    s = t.image_scans
    r = conn.execute(
        select(s.c.basic_findings, s.c.last_manual_scan_at).where(
            s.c.repository_id == repository_id, s.c.digest == digest
        )
    ).first()
    if r is None:
        return None, None
    findings = None if r.basic_findings is None else list(orjson.loads(r.basic_findings))
    return findings, as_utc_or_none(r.last_manual_scan_at)


def delete_scan(conn: Connection, repository_id: int, digest: str) -> None:
    """Forget an image resource's scan state (its coverage)."""
    s = t.image_scans
    conn.execute(delete(s).where(s.c.repository_id == repository_id, s.c.digest == digest))


def store_inventory(
    conn: Connection,
    digest: str,
    distro: dict[str, Any] | None,
    packages: bytes,
    catalogers: str,
    keys: Iterable[tuple[str, str]],
    at: datetime,
) -> None:
    """Keep an image's package inventory and its (ecosystem, name) keys for the reverse index."""
    conn.execute(delete(t.image_inventories).where(t.image_inventories.c.digest == digest))
    conn.execute(
        insert(t.image_inventories).values(
            digest=digest,
            distro=json.dumps(distro),
            packages=packages,
            catalogers=catalogers,
            created_at=at,
        )
    )
    conn.execute(delete(t.image_package_keys).where(t.image_package_keys.c.digest == digest))
    rows = [{"digest": digest, "ecosystem": e, "name": n} for e, n in sorted(set(keys))]
    if rows:
        conn.execute(insert(t.image_package_keys), rows)


def load_inventory(
    conn: Connection, digest: str
) -> tuple[dict[str, Any] | None, bytes, str] | None:
    """(distro, packages document, catalogers) of a stored inventory."""
    i = t.image_inventories
    r = conn.execute(
        select(i.c.distro, i.c.packages, i.c.catalogers).where(i.c.digest == digest)
    ).first()
    if r is None:
        return None
    return json.loads(r.distro), bytes(r.packages), r.catalogers


def images_with_keys(conn: Connection, keys: Sequence[tuple[str, str]]) -> set[str]:
    """Manifest digests whose inventories hold any of the (ecosystem, name) keys."""
    out: set[str] = set()
    k = t.image_package_keys
    for start in range(0, len(keys), 400):
        part = list(keys[start : start + 400])
        out |= {
            r.digest
            for r in conn.execute(
                select(k.c.digest).where(tuple_(k.c.ecosystem, k.c.name).in_(part))
            )
        }
    return out


@dataclass(frozen=True, slots=True)
class FindingRow:
    """A stored finding."""

    id: str
    vulnerability_id: str
    generation: int
    status: str
    severity: str
    fix_available: str
    first_observed_at: datetime
    last_observed_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    detail: dict[str, Any]


def _finding(r: Any) -> FindingRow:
    return FindingRow(
        r.id, r.vulnerability_id, r.generation, r.status, r.severity, r.fix_available,
        as_utc(r.first_observed_at), as_utc(r.last_observed_at), as_utc(r.updated_at),
        as_utc_or_none(r.closed_at), orjson.loads(r.detail),
    )  # fmt: skip


def findings_of(conn: Connection, repository_id: int, digest: str) -> list[FindingRow]:
    """Every finding (any status) of an image resource, newest generation last."""
    f = t.findings
    rows = conn.execute(
        select(f)
        .where(f.c.repository_id == repository_id, f.c.digest == digest)
        .order_by(f.c.vulnerability_id, f.c.generation)
    )
    return [_finding(r) for r in rows]


def insert_finding(
    conn: Connection, tenant: Tenant, repository_id: int, digest: str, row: FindingRow
) -> None:
    """Store a new finding."""
    conn.execute(
        insert(t.findings).values(
            id=row.id,
            account_id=tenant.account_id,
            region=tenant.region,
            repository_id=repository_id,
            digest=digest,
            vulnerability_id=row.vulnerability_id,
            generation=row.generation,
            status=row.status,
            severity=row.severity,
            fix_available=row.fix_available,
            first_observed_at=row.first_observed_at,
            last_observed_at=row.last_observed_at,
            updated_at=row.updated_at,
            closed_at=row.closed_at,
            detail=orjson.dumps(row.detail),
        )
    )


def update_finding(conn: Connection, finding_id: str, **values: Any) -> None:
    """Change a finding's columns (`detail` given as a dict)."""
    if "detail" in values:
        values["detail"] = orjson.dumps(values["detail"])
    conn.execute(update(t.findings).where(t.findings.c.id == finding_id).values(**values))
