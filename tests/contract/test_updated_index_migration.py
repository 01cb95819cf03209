"""Migration findings/16 on both backends: a database made before it gets
`ix_findings_sort_updated` (tenant key, `updated_at`, and `seq` on PostgreSQL, as the other sort
indexes), its findings untouched, and every aggregation type filtered by an `updatedAt` range
answers alike before and after."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, inspect, select, text

from dockwatch.model.times import as_utc
from dockwatch.queries import aggregations as ag
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from tests.unit.queries import findings_db as fdb

from .conftest import BACKENDS, random_findings

INDEX = "ix_findings_sort_updated"


def _answers(db: Database, criteria: dict[str, Any]) -> list[list[dict[str, Any]]]:
    with db.read() as conn:
        return [
            fdb.aggregation_pages(
                conn, {"aggregationType": kind, "maxResults": 100, "filterCriteria": criteria}
            )
            for kind in ag.MEMBERS
        ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_older_database_gets_the_index(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with random_findings(backend, request, tmp_path, 7, 20) as (_, db):
        with db.read() as conn:
            f = t.findings
            at = sorted(as_utc(v) for (v,) in conn.execute(select(f.c.updated_at)))
            rows = conn.execute(select(func.count()).select_from(f)).scalar_one()
        criteria = {
            "updatedAt": [{"startInclusive": (at[1] + timedelta(microseconds=1)).isoformat()}]
        }
        with db.write() as conn:
            conn.execute(text(f"DROP INDEX {INDEX}"))
            m = t.schema_migrations
            conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number == 16))
        before = _answers(db, criteria)
        applied = migrate(db)
        assert [(a.subsystem, a.number) for a in applied] == [("findings", 16)]
        with db.read() as conn:
            found = {ix["name"]: ix["column_names"] for ix in inspect(conn).get_indexes("findings")}
            # SQLite's entries end with the rowid, `seq`, without naming it
            wanted = ["tenant_key", "updated_at"] + (["seq"] if backend == "postgresql" else [])
            assert found[INDEX] == wanted
            assert conn.execute(select(func.count()).select_from(f)).scalar_one() == rows
        assert before and any(before)
        assert _answers(db, criteria) == before
        assert migrate(db) == []
