"""Migration listing/2 on both backends: a database made with the older finding indexes ends
with exactly the indexes a fresh database gets."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, inspect, text

from dockwatch.storage.sql import tables
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate

from .conftest import BACKENDS, empty_database_url

OLDER = {
    "ix_findings_digest": "account_id, region, digest",
    "ix_findings_repository_severity": "account_id, region, repository_name, severity_rank, id",
    "ix_findings_status": "account_id, region, status, severity",
    "ix_findings_suppressed_by": "account_id, region, suppressed_by",
}
"""The indexes listing/2 replaces, as listing/1 and the scan baseline made them."""
_NAMES = [ix.name for ix in tables.FINDING_SORT_INDEXES]
SPELLED = {n for n in _NAMES if _NAMES.count(n) == 2}
"""The sort indexes spelled per dialect: PostgreSQL's names `seq` (SQLite's ends with the
rowid)."""


def _indexes(db: Database) -> dict[str, tuple[list[str | None], bool]]:
    """Index name -> (columns, partial) on `findings`."""
    with db.read() as conn:
        found = inspect(conn).get_indexes("findings")
        out = {}
        for ix in found:
            where = ix.get("dialect_options", {})
            partial = any("where" in k for k in where)
            out[str(ix["name"])] = (list(ix["column_names"]), partial)
        return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_older_indexes_become_the_current_ones(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    url = empty_database_url(backend, request, tmp_path, "old.db")
    fresh, db = Database(fresh_url), Database(url)
    try:
        migrate(fresh)
        migrate(db)
        with db.write() as conn:  # back to the indexes of an older database
            for index in tables.FINDING_SORT_INDEXES:
                if index.table is tables.findings:
                    conn.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
            for name, columns in OLDER.items():
                conn.execute(text(f"CREATE INDEX {name} ON findings ({columns})"))
            m = tables.schema_migrations
            conn.execute(delete(m).where(m.c.subsystem == "listing", m.c.number == 2))
        assert set(OLDER) <= set(_indexes(db))
        applied = migrate(db)
        assert [(a.subsystem, a.number) for a in applied] == [("listing", 2)]
        after = _indexes(db)
        assert not set(OLDER) & set(after)
        tie_break: list[str | None] = ["seq"] if backend == "postgresql" else []  # SQLite: rowid
        assert after == {
            name: (columns + tie_break if name in SPELLED else columns, partial)
            for name, (columns, partial) in _indexes(fresh).items()
        }
        assert after["ix_findings_suppressed_rule"][1]  # partial: only suppressed findings
        assert after["ix_findings_status_rank"][0] == [
            "tenant_key", "status", "severity_rank", *tie_break,
        ]  # fmt: skip
    finally:
        fresh.close()
        db.close()
