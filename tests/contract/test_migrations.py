"""The migrations runner on both backends: a fresh database gets every step once, even when
several processes start on it at the same moment (PostgreSQL: an advisory lock; SQLite: the
write lock of the file)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dockwatch.storage.sql import tables
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import MIGRATIONS, migrate

from .conftest import BACKENDS, empty_database_url


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_starts_apply_each_migration_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = empty_database_url(backend, request, tmp_path, "m.db")
    databases = [Database(url) for _ in range(4)]  # four processes' engines
    applied: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(databases))

    def run(db: Database) -> None:
        start.wait()
        try:
            applied.append(len(migrate(db)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert sorted(applied) == [0, 0, 0, len(MIGRATIONS)]
        with databases[0].read() as conn:
            recorded = conn.execute(select(func.count()).select_from(tables.schema_migrations))
            assert recorded.scalar() == len(MIGRATIONS)
        assert migrate(databases[0]) == []
    finally:
        for db in databases:
            db.close()
