"""`storage.store_copy`: a data folder's database copied into an empty one (SQLite, or the
session's PostgreSQL), then written to by the new install; a second copy of the same data is
recognised, a copy into a database holding other rows is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dockwatch.errors import InvalidInput
from dockwatch.model.events import RescanCompleted
from dockwatch.model.identity import Tenant
from dockwatch.storage.blobs.filesystem import FilesystemBlobStore
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.storage.store_copy import copy_store

TENANT = Tenant("123456789012", "eu-west-1")
AT = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)


def _append(db: Database, *versions: int) -> list[int]:
    """Outbox ids of one event per version, appended through the store."""
    with SqlStore(db).write() as uow:
        return [uow.outbox.append(RescanCompleted(TENANT, AT, v)) for v in versions]


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'source.db'}")
    migrate(db)
    _append(db, 1, 2, 3)
    yield db
    db.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = (
        f"sqlite:///{tmp_path / 'target.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    db = Database(url)
    yield db
    db.close()


def test_copy_continues_ids_and_then_refuses_to_copy_again(
    source: Database, target: Database, tmp_path: Path
) -> None:
    blobs = FilesystemBlobStore(tmp_path / "source-blobs"), FilesystemBlobStore(tmp_path / "to")
    first = copy_store(source, blobs[0], target, blobs[1])
    assert first.verified and not first.already_copied
    assert {c.table: c.target for c in first.tables}["outbox"] == 3
    # the new install's ids follow the copied ones (no collision with row 3)
    assert _append(target, 4) == [4]
    # the target now holds rows the data folder does not: never merged into
    with pytest.raises(InvalidInput, match="not empty .* does not hold a copy"):
        copy_store(source, blobs[0], target, blobs[1])


def test_a_second_copy_of_the_same_data_is_recognised(source: Database, tmp_path: Path) -> None:
    target = Database(f"sqlite:///{tmp_path / 'target.db'}")
    blobs = FilesystemBlobStore(tmp_path / "source-blobs"), FilesystemBlobStore(tmp_path / "to")
    try:
        assert not copy_store(source, blobs[0], target, blobs[1]).already_copied
        again = copy_store(source, blobs[0], target, blobs[1])
        assert again.verified and again.already_copied
        assert {c.table: c.target for c in again.tables}["outbox"] == 3
    finally:
        target.close()
