"""ACTIVE findings by severity of a repository's images, for DescribeImages'
`findingSeverityCounts` and the console's list of images.

The image rollup (`finding_image_counts`) holds exactly these counts, one row per (status,
image): a repository's 20 images are 20 rows, where their findings are 2,000 (at 1,000,000
findings on SQLite, reading and counting those findings took 30 ms of CPU, 165 before
`ix_findings_image` was sought per image). Without the rollups (a database whose triggers are
off) the findings are counted.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, func, select

from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import pg_rollups, rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.batching import chunks
from dockwatch.storage.sql.schema.findings import image_key


def active_counts(
    conn: Connection, tenant: Tenant, repository_id: int, digests: Sequence[str]
) -> dict[str, dict[str, int]]:
    """digest -> severity (upper case) -> ACTIVE findings, for the images with any."""
    if not rollups.enabled(conn):
        return _counted(conn, tenant, repository_id, digests)
    out: dict[str, dict[str, int]] = {}
    log = conn.dialect.name == "postgresql" and pg_rollups.settle(conn)
    images = pg_rollups.current(t.finding_image_counts, log)
    severities = [images.c[s] for s in t.ROLLUP_SEVERITIES]
    for part in chunks(sorted(set(digests))):
        rows = conn.execute(
            select(images.c.digest, *severities).where(
                images.c.account_id == tenant.account_id,
                images.c.region == tenant.region,
                images.c.status == "ACTIVE",
                images.c.repository_id == repository_id,
                images.c.digest.in_(part),
            )
        )
        for digest, *counts in rows:
            found = {
                s.upper(): int(n) for s, n in zip(t.ROLLUP_SEVERITIES, counts, strict=True) if n > 0
            }
            if found:
                out[digest] = found
    return out


def _counted(
    conn: Connection, tenant: Tenant, repository_id: int, digests: Sequence[str]
) -> dict[str, dict[str, int]]:
    f = t.findings
    out: dict[str, dict[str, int]] = {}
    for part in chunks(sorted(set(digests))):
        rows = conn.execute(
            select(f.c.digest, f.c.severity, func.count())
            .where(
                f.c.account_id == tenant.account_id,
                f.c.region == tenant.region,
                f.c.repository_id == repository_id,
                f.c.image_key.in_(sorted({image_key(d) for d in part})),
                f.c.digest.in_(part),
                f.c.status == "ACTIVE",
            )
            .group_by(f.c.digest, f.c.severity)
        )
        for digest, severity, n in rows:
            out.setdefault(digest, {})[severity] = int(n)
    return out
