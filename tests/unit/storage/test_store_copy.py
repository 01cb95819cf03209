"""`storage.store_copy`: a data folder's database copied into an empty one (SQLite, or the
session's PostgreSQL), then written to by the new install; a second copy of the same data is
recognised, a copy into a database holding other rows is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from dockwatch.errors import InvalidInput
from dockwatch.model.events import RescanCompleted
from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc_or_none
from dockwatch.storage.blobs.filesystem import FilesystemBlobStore
from dockwatch.storage.sql import finding_tenants, tables
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


def test_postgresql_has_the_copied_tables_statistics_at_once(
    source: Database, postgres_url: str, tmp_path: Path
) -> None:
    """The planner must not wait for autovacuum to learn how large the copied tables are, nor
    index-only scans for it to vacuum them (mark their pages all-visible)."""
    target = Database(postgres_url)
    blobs = FilesystemBlobStore(tmp_path / "source-blobs"), FilesystemBlobStore(tmp_path / "to")
    try:
        copy_store(source, blobs[0], target, blobs[1])
        with target.read() as conn:
            analyzed, vacuumed = conn.execute(
                text(
                    "SELECT last_analyze IS NOT NULL, last_vacuum IS NOT NULL"
                    " FROM pg_stat_user_tables WHERE relname = :t"
                ),
                {"t": "outbox"},
            ).one()
            estimate = conn.execute(
                text("SELECT reltuples FROM pg_class WHERE relname = 'outbox'")
            ).scalar_one()
        assert analyzed and vacuumed and estimate == 3
    finally:
        target.close()


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


def test_finding_times_reach_the_target_as_the_same_instants(
    source: Database, target: Database, tmp_path: Path
) -> None:
    """SQLite keeps a finding's times as integer microseconds (`schema/epoch_micros.py`), which
    reflection sees as plain integers: the copy still hands the target the instants."""
    f = tables.findings
    times = {
        "first_observed_at": AT + timedelta(microseconds=1),
        "last_observed_at": AT + timedelta(days=3, microseconds=999_999),
        "updated_at": AT + timedelta(days=3, microseconds=999_999),
        "closed_at": AT + timedelta(days=4, seconds=7, microseconds=123_456),
    }
    with source.write() as conn:
        repository_id = conn.execute(
            insert(tables.repositories)
            .values(account_id=TENANT.account_id, region=TENANT.region, name="app", created_at=AT)
            .returning(tables.repositories.c.id)
        ).scalar_one()
        conn.execute(
            insert(tables.finding_details).values(ref="d" * 32, doc=b"{}", title="t", created_at=AT)
        )
        conn.execute(
            insert(f).values(
                id="f" * 32, account_id=TENANT.account_id, region=TENANT.region,
                tenant_key=finding_tenants.ensure_keys(conn, [TENANT])[TENANT],
                repository_id=repository_id, repository_name="app", digest="sha256:" + "0" * 64,
                vulnerability_id="CVE-2031-0001", generation=0, status="CLOSED", severity="HIGH",
                fix_available="YES", detail_ref="d" * 32, **times,
            )
        )  # fmt: skip
    blobs = FilesystemBlobStore(tmp_path / "source-blobs"), FilesystemBlobStore(tmp_path / "to")
    assert copy_store(source, blobs[0], target, blobs[1]).verified
    with target.read() as conn:
        row = conn.execute(select(*(f.c[name] for name in times), f.c.tenant_key)).one()
        assert row.tenant_key == finding_tenants.key_of(conn, TENANT) is not None
    assert {name: as_utc_or_none(row._mapping[name]) for name in times} == times
