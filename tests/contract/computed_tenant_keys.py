"""Findings tables as they were before migration findings/11, for the tests of the migrations
before it: `tenant_key` computed by the database from the account and region
(`TENANT_KEY_SQL`), no `finding_tenants`, findings/11 not recorded (and findings/14, where the
caller made the image indexes as they were)."""

from __future__ import annotations

import re

from sqlalchemy import Connection, delete, text

from dockwatch.storage.sql import tables
from dockwatch.storage.sql.schema.findings import TENANT_KEY_SQL


def computed_tenant_key(ddl: str, dialect: str) -> str:
    """The `CREATE TABLE findings` statement `ddl` with `tenant_key` a generated column again
    (VIRTUAL on SQLite, STORED on PostgreSQL)."""
    kind = "VIRTUAL" if dialect == "sqlite" else "STORED"
    old, count = re.subn(
        r"\btenant_key BIGINT NOT NULL",
        f"tenant_key BIGINT GENERATED ALWAYS AS ({TENANT_KEY_SQL}) {kind}",
        ddl,
    )
    assert count == 1, ddl
    return old


def before_dense_keys(conn: Connection) -> None:
    """No `finding_tenants`, findings/11 not recorded (the findings table as the caller made
    it)."""
    conn.execute(text("DROP TABLE finding_tenants"))
    m = tables.schema_migrations
    conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number == 11))


def before_image_key_index(conn: Connection) -> None:
    """findings/14 not recorded: the caller made the image index as it was before (led by the
    digest) and `ix_findings_vuln`."""
    m = tables.schema_migrations
    conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number == 14))
