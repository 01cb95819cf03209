"""Fixtures of the repository contract suites: a store per backend (SQLite in a temp folder,
PostgreSQL in a fresh database of the session's throwaway cluster, `tests/support/postgres.py`),
and images pushed through the registry service so that the suites do not depend on how a backend
keeps registry rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, update

from dockwatch.app import Services, build
from dockwatch.config import Settings
from dockwatch.model.finding_criteria import Criteria
from dockwatch.model.finding_sort import Sort
from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.finding_queries import listing_sql
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.storage.store_copy import copy_tables
from dockwatch.storage.unit_of_work import Store
from tests.builders.layers import Image, make_image, make_layer
from tests.unit.queries import findings_db as fdb

BACKENDS = ["sqlite", "postgresql"]
"""The database backends every contract runs against."""


def empty_database_url(
    backend: str, request: pytest.FixtureRequest, folder: Path, name: str = "contract.db"
) -> str:
    """The URL of an empty database of `backend`: a SQLite file `name` in `folder`, or the
    session cluster's fresh PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{folder / name}"
    assert backend == "postgresql", backend
    url: str = request.getfixturevalue("postgres_url")
    return url


def listed_ids(
    conn: Connection,
    tenants: Tenant | Sequence[Tenant],
    sort: Sort,
    criteria: Criteria | None = None,
) -> list[str]:
    """Every finding id of the listing of `tenants` (meeting `criteria`) in `sort`, page after
    page of 7."""
    ids: list[str] = []
    after = None
    while True:
        page = listing_sql.list_page(conn, tenants, criteria or Criteria(), sort, 7, after)
        ids += [x.id for x in page.findings]
        if page.next is None:
            return ids
        after = page.next


@contextmanager
def random_findings(
    backend: str, request: pytest.FixtureRequest, folder: Path, seed: int, images: int
) -> Iterator[tuple[fdb.FindingsDb, Database]]:
    """`fdb.build_db`'s random findings (built in SQLite) and the database of `backend` holding
    them: the same one on SQLite, a copy (`copy_tables`) on PostgreSQL; both closed after."""
    built = fdb.build_db(folder / "f.db", seed, images=images)
    db = built.db
    try:
        if backend == "postgresql":
            db = Database(empty_database_url(backend, request, folder, "old.db"))
            copy_tables(built.db, db)
        yield built, db
    finally:
        if db is not built.db:
            db.close()
        built.db.close()


def flips_left_in_count_log(db: Database) -> None:
    """On PostgreSQL, every LOW finding made SUPPRESSED after the copy, so that the rollups'
    count log holds rows when the aggregations read (`pg_rollups.py`); nothing on SQLite, whose
    triggers keep the rollups at once."""
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            f = t.findings
            conn.execute(update(f).where(f.c.severity == "LOW").values(status="SUPPRESSED"))


def _database_url(request: pytest.FixtureRequest, folder: Path) -> str:
    return empty_database_url(request.param, request, folder)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store of the backend under test (storage only, no services)."""
    db = Database(_database_url(request, tmp_path))
    migrate(db)
    built = SqlStore(db)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture(params=BACKENDS)
def services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Services]:
    """Services over a fresh data folder of the backend under test."""
    url = _database_url(request, tmp_path)
    database_url = None if request.param == "sqlite" else url
    built = build(Settings(data_dir=tmp_path / "data", database_url=database_url))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def pg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database of the session's PostgreSQL cluster (suites of PostgreSQL alone)."""
    database = Database(empty_database_url("postgresql", request, tmp_path))
    migrate(database)
    try:
        yield database
    finally:
        database.close()


def image(seed: str) -> Image:
    """A distinct small image."""
    return make_image([make_layer({"seed": seed})])


def repository_id(services: Services, name: str) -> int:
    """The id the registry gave repository `name`."""
    return services.registry.ctx.repository(name).id
