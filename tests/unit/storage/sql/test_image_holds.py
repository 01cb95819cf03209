"""Which findings writers wait for which on PostgreSQL (`storage/sql/image_holds.py`).

Each case holds some images in one transaction, then asks for others in a second transaction
with a 200 ms `lock_timeout`: a writer that must wait is refused with `LockNotAvailable`, one
that need not wait holds its images at once. The oracle is the rule itself: writers of common
images wait; writers of different images do not, unless one of them holds more than
`MAX_IMAGE_LOCKS` images, which holds them all.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.image_holds import MAX_IMAGE_LOCKS, hold_images
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
OTHERS = _images("b", 3)
MANY = _images("c", MAX_IMAGE_LOCKS + 1)


@pytest.mark.parametrize(
    ("held", "asked", "waits"),
    [
        (SOME, SOME[1:2], True),  # a scan of an image a rescan holds
        (SOME[1:2], SOME, True),  # a rescan of an image a scan holds
        (SOME, OTHERS, False),  # writers of different images
        (SOME, SOME[:0], False),  # nothing asked
        (MANY, OTHERS, True),  # a large rescan holds every image
        (OTHERS, MANY, True),  # and waits for the writers in flight
        (MANY, MANY[:1], True),
    ],
    ids=["scan-in-rescan", "rescan-over-scan", "apart", "nothing", "large-first",
         "large-second", "large-same"],
)  # fmt: skip
def test_writers_wait_for_common_images_only(
    pg: Database, held: list[tuple[int, str]], asked: list[tuple[int, str]], waits: bool
) -> None:
    assert _waits(pg, held, asked) is waits


def test_a_large_hold_takes_one_lock(pg: Database) -> None:
    """PostgreSQL's shared lock table has 64 slots a connection by default: a rescan of many
    images must not take one each."""
    count = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    )
    with pg.engine.connect() as conn, conn.begin():
        hold_images(conn, _images("d", 10 * MAX_IMAGE_LOCKS))
        assert conn.execute(count).scalar() == 1
    with pg.engine.connect() as conn, conn.begin():
        hold_images(conn, SOME)
        assert conn.execute(count).scalar() == 1 + len(SOME)  # all images, shared, then each
