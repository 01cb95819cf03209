"""An image resource's findings held by one writer at a time, until its transaction ends.

A findings write reads an image's stored findings, reconciles them with its drafts and writes
the difference. On PostgreSQL two writers can do that for one image at once: two workers scan
it (a push of two tags queues two scans), or a scan and an advisory delta's rescan meet. Both
read before either commits, both open the same findings, and the second fails on their ids.
So each writer takes transaction-level advisory locks before reading, and the second writer
reads what the first wrote.

Advisory locks live in PostgreSQL's shared lock table (64 a connection by default), which a
rescan of thousands of images would overflow with a lock per image. Images are therefore
locked by bucket: `BUCKETS` locks, an image's bucket a hash of the resource. A scan takes one;
a rescan at most `BUCKETS`, in bucket order, so no two writers wait for each other crosswise.
Writers of images in different buckets run side by side; two images of one bucket only have
their writers ordered. The locks use PostgreSQL's two-key form under a class of their own, a
key space apart from the single-key locks of the outbox and the rollups.

SQLite runs one writer at a time (`BEGIN IMMEDIATE`), so there it takes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from dockwatch.storage.image_buckets import image_bucket

LOCK_CLASS = 0x6466696E
"""The first key of every image bucket's lock ("dfin")."""


def hold_images(conn: Connection, resources: Iterable[tuple[int, str]]) -> None:
    """Take the locks of the (repository id, digest) resources' buckets for the rest of the
    transaction; a writer holding one of them is waited for."""
    if conn.dialect.name != "postgresql":
        return
    buckets = sorted({image_bucket(r, d) for r, d in resources})
    if buckets:  # the array is read in order, so the locks are taken in bucket order
        conn.exec_driver_sql(
            "SELECT count(pg_advisory_xact_lock(%s, b)) FROM unnest(%s::int4[]) AS b",
            (LOCK_CLASS, buckets),
        )
