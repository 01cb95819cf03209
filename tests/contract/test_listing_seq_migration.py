"""Migration listing/3 on both backends: a findings table keyed by the finding id, with sort
indexes ending in the id, becomes the table a fresh database gets (`seq` the primary key, the
id unique): every row kept, numbered in the order it was stored, the rollup triggers in force."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, column, delete, insert, inspect, select, table, text
from sqlalchemy.schema import CreateTable

from dockwatch.storage.sql import rollups, tables
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate

from .computed_tenant_keys import before_dense_keys, before_image_key_index, computed_tenant_key
from .conftest import BACKENDS, empty_database_url

OLD_SORT = {
    "ix_findings_sort_severity": "severity_rank",
    "ix_findings_sort_first": "first_observed_at",
    "ix_findings_sort_last": "last_observed_at",
    "ix_findings_sort_status": "status",
    "ix_findings_status_rank": "status, severity_rank",
    "ix_findings_sort_repository": "repository_name",
    "ix_findings_sort_vulnerability": "vulnerability_id",
    "ix_findings_sort_source": "source",
    "ix_findings_sort_score": "score_key",
    "ix_findings_sort_epss": "epss_key",
}
"""The sort indexes as listing/2 left them: (tenant, key, id)."""
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _old_findings(conn: Connection) -> None:
    """Replace `findings` with the table listing/2 left: `id` the primary key, no `seq`."""
    ddl = str(CreateTable(tables.findings).compile(dialect=conn.dialect))
    old = re.sub(r"\n\s*seq [A-Z]+ NOT NULL, ", "\n", ddl, count=1).replace(
        "PRIMARY KEY (seq)", "PRIMARY KEY (id)", 1
    )
    assert "seq" not in old, old
    old = computed_tenant_key(old, conn.dialect.name)  # as before findings/11
    conn.execute(text("DROP TABLE findings"))
    conn.execute(text(old))
    for name, columns in {
        "ix_findings_image": "repository_id, digest, vulnerability_id",
        "ix_findings_vuln": "vulnerability_id",
        # the detail index as findings/10 makes it (listing/3 leaves it alone)
        "ix_findings_detail_image": "detail_ref, status_code, repository_id, image_key, severity_rank",
        **{k: f"account_id, region, {v}, id" for k, v in OLD_SORT.items()},
    }.items():
        conn.execute(text(f"CREATE INDEX {name} ON findings ({columns})"))
    conn.execute(
        text(
            "CREATE INDEX ix_findings_suppressed_rule ON findings (account_id, region, "
            "suppressed_by) WHERE suppressed_by IS NOT NULL"
        )
    )
    if conn.dialect.name == "sqlite":
        rollups.install_triggers(conn)


def _finding(rng: random.Random, n: int, repository_id: int, ref: str) -> dict[str, Any]:
    at = NOW + timedelta(minutes=rng.randrange(50))
    return {
        "id": f"{rng.getrandbits(128):032x}",
        "account_id": "123456789012",
        "region": "us-east-1",
        "repository_id": repository_id,
        "repository_name": "app",
        "digest": f"sha256:{n % 7:064x}",
        "vulnerability_id": f"CVE-2024-{n:04d}",
        "generation": 0,
        "status": rng.choice(["ACTIVE", "SUPPRESSED", "CLOSED"]),
        "severity": rng.choice(["CRITICAL", "HIGH", "LOW"]),
        "fix_available": "YES",
        "exploit_available": "NO",
        "inspector_score": rng.choice([None, 7.5, 9.8]),
        "epss_score": None,
        "source": "osv",
        "first_observed_at": at,
        "last_observed_at": at,
        "updated_at": at,
        "closed_at": None,
        "detail_ref": ref,
        "suppressed_by": None,
    }


def _columns(db: Database) -> tuple[list[str], list[str], dict[str, tuple[list[Any], bool]]]:
    """(columns, primary key, index name -> (columns, unique)) of `findings`."""
    with db.read() as conn:
        insp = inspect(conn)
        columns = sorted(c["name"] for c in insp.get_columns("findings"))
        pk = list(insp.get_pk_constraint("findings")["constrained_columns"])
        indexes = {
            str(ix["name"]): (list(ix["column_names"]), bool(ix["unique"]))
            for ix in insp.get_indexes("findings")
        }
        return columns, pk, indexes


def _rollup_rows(conn: Connection) -> list[list[Any]]:
    return [sorted(tuple(r) for r in conn.execute(select(table))) for table in rollups.TABLES]


@pytest.mark.parametrize("backend", BACKENDS)
def test_findings_keyed_by_id_gain_seq_in_stored_order(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    url = empty_database_url(backend, request, tmp_path, "old.db")
    fresh, db = Database(fresh_url), Database(url)
    rng = random.Random(3)
    try:
        migrate(fresh)
        migrate(db)
        with db.write() as conn:
            _old_findings(conn)
            repository_id = conn.execute(
                insert(tables.repositories)
                .values(account_id="123456789012", region="us-east-1", name="app", created_at=NOW)
                .returning(tables.repositories.c.id)
            ).scalar_one()
            conn.execute(
                insert(tables.finding_details).values(
                    ref="d" * 32, doc=b"{}", title="a title", created_at=NOW
                )
            )
            stored = [_finding(rng, n, repository_id, "d" * 32) for n in range(60)]
            old = table("findings", *[column(n, tables.findings.c[n].type) for n in stored[0]])
            for row in stored:  # one at a time: the stored order is the insert order
                conn.execute(insert(old).values(row))
            m = tables.schema_migrations
            conn.execute(delete(m).where(m.c.subsystem == "listing", m.c.number == 3))
            before_dense_keys(conn)
            before_image_key_index(conn)
            before = _rollup_rows(conn)
        assert "seq" not in _columns(db)[0]

        applied = migrate(db)

        assert [(a.subsystem, a.number) for a in applied] == [
            ("listing", 3),
            ("findings", 11),
            ("findings", 14),
        ]
        columns, pk, indexes = _columns(db)
        fresh_columns, fresh_pk, fresh_indexes = _columns(fresh)
        assert columns == fresh_columns and pk == fresh_pk == ["seq"]
        if backend == "sqlite":
            assert indexes == fresh_indexes
        else:  # PostgreSQL's spelling names `seq` last
            assert indexes["ix_findings_status_rank"] == (
                ["tenant_key", "status", "severity_rank", "seq"],
                False,
            )
            assert set(indexes) == set(fresh_indexes)
        assert indexes["ix_findings_id"] == (["id"], True)
        names = list(stored[0])
        with db.write() as conn:
            f = tables.findings
            rows = conn.execute(select(f.c.seq, *[f.c[n] for n in names]).order_by(f.c.seq))
            got = [dict(r._mapping) for r in rows]
            assert [r["id"] for r in got] == [r["id"] for r in stored]  # the stored order
            assert len({r["seq"] for r in got}) == len(stored)
            for row, want in zip(got, stored, strict=True):
                assert {n: row[n] for n in names if "_at" not in n} == {
                    n: want[n] for n in names if "_at" not in n
                }
            assert _rollup_rows(conn) == before
            later = {**_finding(rng, 99, got[0]["repository_id"], "d" * 32), "tenant_key": 1}
            added = conn.execute(insert(f).values(later).returning(f.c.seq)).scalar_one()
            assert added > max(r["seq"] for r in got)
            if backend == "sqlite":  # the triggers counted the new finding as a rebuild does
                assert rollups.enabled(conn)
                counted = _rollup_rows(conn)
                rollups.rebuild(conn)
                assert counted == _rollup_rows(conn) != before
    finally:
        fresh.close()
        db.close()
