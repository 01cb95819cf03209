"""SQL for scanning: settings, per-image scan state, inventories and the reverse index.

Findings live in `finding_repo`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.registry_repo import Tenant
from dockwatch.storage.sql.timeutil import as_utc_or_none


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
    keyed: Iterable[tuple[str, str, str]],
    package_docs: Mapping[str, bytes],
    at: datetime,
) -> None:
    """Keep an image's package inventory, its packages by ref, and the reverse index rows
    ((ecosystem, name) looked up -> package ref) a feed delta is mapped through."""
    from dockwatch.storage.sql.finding_repo import put_packages

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
    put_packages(conn, package_docs)
    conn.execute(delete(t.image_package_keys).where(t.image_package_keys.c.digest == digest))
    rows = [
        {"digest": digest, "ecosystem": e, "name": n, "pkg_ref": r}
        for e, n, r in sorted(set(keyed))
    ]
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
