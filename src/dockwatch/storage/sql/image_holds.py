"""An image resource's findings held by one writer at a time, until its transaction ends.

A findings write reads an image's stored findings, reconciles them with its drafts and writes
the difference. On PostgreSQL two writers can do that for one image at once: two workers scan
it (a push of two tags queues two scans), or a scan and an advisory delta's rescan meet. Both
read before either commits, both open the same findings, and the second fails on their ids.
So each writer takes transaction-level advisory locks before reading, and the second writer
reads what the first wrote.

Advisory locks live in PostgreSQL's shared lock table (64 per connection by default), which a
rescan of thousands of images would overflow with a lock per image. Hence two levels, as a
table's intention locks: every writer first takes the lock of all images, shared when it holds
at most `MAX_IMAGE_LOCKS` images, then a lock per image (exclusive) in key order; a writer of
more images takes the lock of all images exclusively and nothing else. Writers of different
images run side by side; a large rescan waits for the writers in flight and holds the others
off until it commits. Keys are taken in one order (all images first, then sorted image keys),
so no two writers wait for each other crosswise. The locks use PostgreSQL's two-key form under
classes of their own, a key space apart from the single-key locks of the outbox and the
rollups. Two images whose keys collide share a lock, which only orders their writers.

SQLite runs one writer at a time (`BEGIN IMMEDIATE`), so there it takes nothing.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from sqlalchemy import Connection

LOCK_CLASS = 0x6466696E
"""The first key of each image's lock ("dfin")."""
ALL_IMAGES = (0x64666961, 0)
"""The lock of all images ("dfia")."""
MAX_IMAGE_LOCKS = 256
"""Writers of more images take the lock of all images exclusively instead."""


def image_lock_key(repository_id: int, digest: str) -> int:
    """The second key of an image's lock: a signed 32-bit hash of the image resource."""
    return zlib.crc32(f"{repository_id}/{digest}".encode()) - (1 << 31)


def hold_images(conn: Connection, resources: Iterable[tuple[int, str]]) -> None:
    """Take the locks of the (repository id, digest) resources for the rest of the
    transaction; writers holding one of them are waited for."""
    if conn.dialect.name != "postgresql":
        return
    keys = sorted({image_lock_key(r, d) for r, d in resources})
    if len(keys) > MAX_IMAGE_LOCKS:
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s, %s)", ALL_IMAGES)
        return
    conn.exec_driver_sql("SELECT pg_advisory_xact_lock_shared(%s, %s)", ALL_IMAGES)
    # the array is read in order, so the locks are taken in key order
    conn.exec_driver_sql(
        "SELECT count(pg_advisory_xact_lock(%s, k)) FROM unnest(%s::int4[]) AS k",
        (LOCK_CLASS, keys),
    )
