"""Named leases (`vuln_leases`): one holder at a time, until the lease expires or its holder
gives it back; the feed-sync lease is one (`vulndb/sync_lease.py`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from dockwatch.model.times import as_utc_or_none
from dockwatch.storage.sql import tables as t


def acquire(
    conn: Connection,
    name: str,
    holder: str,
    now: datetime,
    expires_at: datetime,
    gone: Callable[[str], bool] | None = None,
) -> bool:
    """Take (or renew) the named lease unless another holder has it until after `now`, and
    `gone` does not say that holder is gone.

    The caller's write transaction makes the read and the write one step (SQLite has one
    writer; on PostgreSQL the row stays locked until commit, and of two racing inserts one
    does nothing and reads the other's row)."""
    lease = t.vuln_leases
    postgresql = conn.dialect.name == "postgresql"
    read = select(lease.c.holder, lease.c.expires_at).where(lease.c.name == name)
    if postgresql:  # many writers: hold the row until commit so two cannot both take it
        read = read.with_for_update()
    row = conn.execute(read).first()
    if row is None:
        values = {"name": name, "holder": holder, "expires_at": expires_at}
        if not postgresql:
            conn.execute(insert(lease).values(**values))
            return True
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        taken = (
            pg_insert(lease)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(lease.c.name)
        )
        if conn.execute(taken).first() is not None:
            return True
        row = conn.execute(read).first()  # a racing process inserted it first
        assert row is not None
    expiry = as_utc_or_none(row.expires_at)
    if row.holder != holder and expiry is not None and expiry > now:
        if gone is None or not gone(row.holder):
            return False
    conn.execute(
        update(lease).where(lease.c.name == name).values(holder=holder, expires_at=expires_at)
    )
    return True


def held(conn: Connection, name: str) -> tuple[str, datetime] | None:
    """The named lease's holder and expiry, expired or not (None: no row)."""
    lease = t.vuln_leases
    row = conn.execute(
        select(lease.c.holder, lease.c.expires_at).where(lease.c.name == name)
    ).first()
    if row is None:
        return None
    expiry = as_utc_or_none(row.expires_at)
    assert expiry is not None
    return row.holder, expiry


def release(conn: Connection, name: str, holder: str) -> None:
    """Give the lease back (only its holder can)."""
    lease = t.vuln_leases
    conn.execute(delete(lease).where(lease.c.name == name, lease.c.holder == holder))
