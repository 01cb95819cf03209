"""Migration findings/9 on both backends: on SQLite a database whose image, layer, package and
title rollups are rowid tables (as before it) gets them as WITHOUT ROWID tables holding the same
rows, and the triggers keep them equal to a recount afterwards (after a status flip of every
ACTIVE finding); on PostgreSQL nothing changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, delete, select, text, update

from dockwatch.storage.sql import pg_rollups, rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate

from .conftest import BACKENDS, random_findings
from .test_detail_joins_migration import with_rowid
from .test_detail_names_migration import _check

TABLES = (
    t.finding_image_counts, t.finding_layer_counts, t.finding_package_counts,
    t.finding_title_counts,
)  # fmt: skip


def _ddl(conn: Connection, name: str) -> str:
    return str(
        conn.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :n"), {"n": name}
        ).scalar_one()
    )


def _with_rowid(db: Database) -> None:
    """As before findings/9: on SQLite the four rollups as rowid tables with their rows; the
    record gone."""
    with db.write() as conn:
        if conn.dialect.name == "sqlite":
            with_rowid(conn, TABLES)
            assert all("WITHOUT ROWID" not in _ddl(conn, x.name) for x in TABLES)
        m = t.schema_migrations
        conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number == 9))


def _rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    with db.read() as conn:
        return {
            table.name: sorted(tuple(r) for r in conn.execute(select(table))) for table in TABLES
        }


@pytest.mark.parametrize("backend", BACKENDS)
def test_rollups_become_without_rowid_with_the_same_rows(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with random_findings(backend, request, tmp_path, 7, 16) as (_built, db):
        _with_rowid(db)
        before = _rows(db)
        assert all(before.values())

        applied = migrate(db)

        assert [(a.subsystem, a.number) for a in applied] == [("findings", 9)]
        assert _rows(db) == before
        if backend == "sqlite":
            with db.read() as conn:
                assert all("WITHOUT ROWID" in _ddl(conn, x.name).upper() for x in TABLES)
                assert rollups.enabled(conn)
        _check(db)
        with db.write() as conn:  # the triggers (or the fold) write the new tables' rows
            f = t.findings
            conn.execute(update(f).where(f.c.status == "ACTIVE").values(status="SUPPRESSED"))
            if backend == "postgresql":
                assert pg_rollups.fold(conn)
        _check(db)
        assert _rows(db) != before
        assert migrate(db) == []
