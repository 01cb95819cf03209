"""Image resources in buckets: the unit a findings writer locks, and an update's rescan splits by.

A writer of an image's findings holds the image's bucket until it commits
(`storage/sql/image_holds.py`); the shards of one advisory update's rescan (`Settings.delta_shards`)
take the images of disjoint sets of buckets, so they never wait for each other. A bucket is a
stable hash of the resource: every process of a cluster computes the same.
"""

from __future__ import annotations

import zlib

BUCKETS = 512


def image_bucket(repository_id: int, digest: str) -> int:
    """The bucket of the (repository id, digest) image resource, 0 to `BUCKETS` - 1."""
    return zlib.crc32(f"{repository_id}/{digest}".encode()) % BUCKETS


def in_shard(repository_id: int, digest: str, shard: int, shards: int) -> bool:
    """Whether the image resource belongs to `shard` of `shards` (its bucket modulo `shards`)."""
    return image_bucket(repository_id, digest) % shards == shard
