"""Which findings writers wait for which on PostgreSQL (`storage/sql/image_holds.py`).

Each case holds some images in one transaction, then asks for others in a second transaction
with a 200 ms `lock_timeout`: a writer that must wait is refused with `LockNotAvailable`, one
that need not wait holds its images at once. The oracle is the rule itself, with the buckets
computed apart: writers of common images wait; writers of images in different buckets do not.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from dockwatch.storage.image_buckets import BUCKETS, image_bucket
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.image_holds import hold_images
from tests.support.postgres import PostgresCluster


@pytest.fixture(scope="module")
def pg(postgres_cluster: PostgresCluster) -> Iterator[Database]:
    url = postgres_cluster.create_database()
    db = Database(url)
    try:
        yield db
    finally:
        db.close()
        postgres_cluster.drop_database(url)


def _images(prefix: str, n: int) -> list[tuple[int, str]]:
    return [(7, f"sha256:{prefix}{i:063x}") for i in range(n)]


def _apart(images: list[tuple[int, str]], others: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """`others` whose buckets none of `images` shares."""
    taken = {image_bucket(r, d) for r, d in images}
    return [x for x in others if image_bucket(*x) not in taken]


def _waits(db: Database, held: list[tuple[int, str]], asked: list[tuple[int, str]]) -> bool:
    """Whether a writer of `asked` waits for one holding `held`."""
    with db.engine.connect() as first, first.begin():
        hold_images(first, held)
        with db.engine.connect() as second, second.begin():
            second.execute(text("SET LOCAL lock_timeout = '200ms'"))
            try:
                hold_images(second, asked)
            except OperationalError as exc:
                assert "lock timeout" in str(exc)
                return True
            return False


SOME = _images("a", 3)
OTHERS = _apart(SOME, _images("b", 20))[:3]
MANY = _images("c", 20 * BUCKETS)


@pytest.mark.parametrize(
    ("held", "asked", "waits"),
    [
        (SOME, SOME[1:2], True),  # a scan of an image a rescan holds
        (SOME[1:2], SOME, True),  # a rescan of an image a scan holds
        (SOME, OTHERS, False),  # writers of images in different buckets
        (SOME, SOME[:0], False),  # nothing asked
        (MANY, OTHERS, True),  # a rescan of every bucket holds every image
        (OTHERS, MANY, True),  # and waits for the writers in flight
    ],
    ids=["scan-in-rescan", "rescan-over-scan", "apart", "nothing", "large-first",
         "large-second"],
)  # fmt: skip
def test_writers_wait_for_common_images_only(
    pg: Database, held: list[tuple[int, str]], asked: list[tuple[int, str]], waits: bool
) -> None:
    assert _waits(pg, held, asked) is waits


def test_a_large_hold_takes_a_lock_a_bucket(pg: Database) -> None:
    """PostgreSQL's shared lock table has 64 slots a connection by default: a rescan of many
    images takes a lock a bucket, not one an image."""
    count = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    )
    with pg.engine.connect() as conn, conn.begin():
        hold_images(conn, MANY)
        assert conn.execute(count).scalar() == len({image_bucket(*x) for x in MANY}) == BUCKETS
    with pg.engine.connect() as conn, conn.begin():
        hold_images(conn, SOME)
        assert conn.execute(count).scalar() == len({image_bucket(*x) for x in SOME})
