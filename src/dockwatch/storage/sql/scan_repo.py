"""SQL for scanning: settings, per-image scan state, inventories and the reverse index.

Findings live in `finding_repo`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc_or_none
from dockwatch.storage.sql import tables as t


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


def package_groups(
    keyed: Iterable[tuple[str, str, str, str]],
) -> dict[str, list[dict[str, str]]]:
    """`package_groups` rows by group ref from (layer, ecosystem, name, package ref) rows."""
    by_layer: dict[str, list[tuple[str, str, str]]] = {}
    for layer, ecosystem, name, ref in keyed:
        by_layer.setdefault(layer, []).append((ecosystem, name, ref))
    out: dict[str, list[dict[str, str]]] = {}
    for rows in by_layer.values():
        rows.sort()
        group_ref = hashlib.sha256(orjson.dumps(rows)).hexdigest()[:32]
        out[group_ref] = [
            {"group_ref": group_ref, "ecosystem": e, "name": n, "pkg_ref": r} for e, n, r in rows
        ]
    return out


def store_inventory(
    conn: Connection,
    digest: str,
    distro: dict[str, Any] | None,
    packages: bytes,
    catalogers: str,
    keyed: Iterable[tuple[str, str, str, str]],
    package_docs: Mapping[str, bytes],
    at: datetime,
) -> None:
    """Keep an image's package inventory, its packages by ref, and its part of the reverse
    index: one package group per layer ((layer, ecosystem, name, package ref) rows grouped by
    layer, named by content), so images on the same base share the base's rows."""
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
    refs = set()
    for group_ref, rows in package_groups(keyed).items():
        refs.add(group_ref)
        have = conn.execute(
            select(t.package_groups.c.group_ref)
            .where(t.package_groups.c.group_ref == group_ref)
            .limit(1)
        ).first()
        if have is None:
            conn.execute(insert(t.package_groups), rows)
    g = t.image_package_groups
    conn.execute(delete(g).where(g.c.digest == digest))
    if refs:
        conn.execute(insert(g), [{"digest": digest, "group_ref": r} for r in sorted(refs)])


def forget_inventory_if_unused(conn: Connection, digest: str) -> bool:
    """Drop an image's inventory and reverse index rows once no repository holds the digest
    (and package groups no image uses any more); returns True when dropped."""
    if conn.execute(
        select(t.manifests.c.id).where(t.manifests.c.digest == digest).limit(1)
    ).first():
        return False
    g, ig = t.package_groups, t.image_package_groups
    groups = [
        r.group_ref for r in conn.execute(select(ig.c.group_ref).where(ig.c.digest == digest))
    ]
    conn.execute(delete(ig).where(ig.c.digest == digest))
    conn.execute(delete(t.image_inventories).where(t.image_inventories.c.digest == digest))
    for ref in groups:
        if conn.execute(select(ig.c.digest).where(ig.c.group_ref == ref).limit(1)).first() is None:
            conn.execute(delete(g).where(g.c.group_ref == ref))
    return True


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


class SqlScanRepo:
    """`storage.scan_repo.ScanRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
