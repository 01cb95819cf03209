"""Findings as a rescan or a scan reconciles them (`StoredRow`: the columns it compares, no
detail document), read by image, by vulnerability or by detail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Integer, String, and_, column, select, tuple_, values

from dockwatch.model.times import as_utc, as_utc_or_none
from dockwatch.storage.finding_repo import StoredRow
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.batching import chunks
from dockwatch.storage.sql.schema.findings import image_key

_LIGHT = (
    t.findings.c.id, t.findings.c.repository_id, t.findings.c.digest,
    t.findings.c.vulnerability_id, t.findings.c.generation, t.findings.c.status,
    t.findings.c.severity, t.findings.c.fix_available, t.findings.c.exploit_available,
    t.findings.c.inspector_score, t.findings.c.first_observed_at, t.findings.c.last_observed_at,
    t.findings.c.updated_at, t.findings.c.closed_at, t.findings.c.detail_ref,
    t.findings.c.suppressed_by,
)  # fmt: skip


def _stored(r: Any) -> StoredRow:
    return StoredRow(
        r.id, r.repository_id, r.digest, r.vulnerability_id, r.generation, r.status, r.severity,
        r.fix_available, r.exploit_available, r.inspector_score, as_utc(r.first_observed_at),
        as_utc(r.last_observed_at), as_utc(r.updated_at), as_utc_or_none(r.closed_at),
        r.detail_ref, r.suppressed_by,
    )  # fmt: skip


def stored_of(conn: Connection, resources: Sequence[tuple[int, str]]) -> list[StoredRow]:
    """Every finding (any status) of the image resources, oldest generation first."""
    f = t.findings
    out: list[StoredRow] = []
    for part in chunks(sorted(set(resources))):
        images = [(repository_id, image_key(digest), digest) for repository_id, digest in part]
        if conn.dialect.name == "sqlite":
            # the images as the rows of a CTE (SQLite names no columns of a VALUES alias),
            # each seeking its findings in `ix_findings_image`: `(repository_id, digest) IN
            # (VALUES ...)` read every finding on SQLite once it named two images or more (at
            # 1,000,000 findings 212 ms for two images, 0.3 ms joined; 500: 215 against 60 ms)
            rows = values(
                column("repository_id", Integer),
                column("image_key", String),
                column("digest", String),
                name="images",
            )
            named = rows.data(images).cte("images")
            found = select(*_LIGHT).join_from(
                named,
                f,
                and_(
                    f.c.repository_id == named.c.repository_id,
                    f.c.image_key == named.c.image_key,
                    f.c.digest == named.c.digest,
                ),
            )
        else:  # PostgreSQL scans the index once per image of the list (a bitmap OR)
            columns = tuple_(f.c.repository_id, f.c.image_key, f.c.digest)
            found = select(*_LIGHT).where(columns.in_(images))
        out += [_stored(r) for r in conn.execute(found)]
    out.sort(key=lambda s: (s.repository_id, s.digest, s.vulnerability_id, s.generation))
    return out


def stored_for_vulnerabilities(conn: Connection, vulns: Sequence[str]) -> list[StoredRow]:
    """Every finding (any status) about the vulnerability ids, in any image resource."""
    f = t.findings
    out: list[StoredRow] = []
    # every tenant's key, so that `ix_findings_sort_vulnerability` (tenant key, vulnerability
    # id) is sought once per (tenant, vulnerability): no index of its own (26 bytes a finding)
    keys = select(t.finding_tenants.c.tenant_key)
    for part in chunks(sorted(set(vulns))):
        rows = conn.execute(
            select(*_LIGHT).where(f.c.tenant_key.in_(keys), f.c.vulnerability_id.in_(part))
        )
        out += [_stored(r) for r in rows]
    out.sort(key=lambda s: (s.repository_id, s.digest, s.vulnerability_id, s.generation))
    return out


def open_findings_with_details(conn: Connection, detail_refs: Sequence[str]) -> list[StoredRow]:
    """Open findings whose content is one of the details."""
    f = t.findings
    out: list[StoredRow] = []
    for part in chunks(sorted(set(detail_refs))):
        out += [
            _stored(r)
            for r in conn.execute(
                select(*_LIGHT).where(f.c.detail_ref.in_(part), f.c.status != "CLOSED")
            )
        ]
    return out
