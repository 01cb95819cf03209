"""Migrations listing/4 and findings/11 on both backends: a findings table whose sort indexes are
led by the account and region strings gains `tenant_key` and gets the indexes a fresh database
has; every row is kept, its key is its tenant's dense key (numbered by their number of
findings, worked out here), and each tenant's listings hold exactly its findings (checked
against the stored rows), tenants whose arithmetic keys (listing/4's) were shared included."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, delete, insert, inspect, select, text
from sqlalchemy.schema import CreateTable

from dockwatch.model.finding_sort import Sort, SortField, SortOrder
from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import rollups, tables
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.schema.findings import tenant_key

from .computed_tenant_keys import before_dense_keys, before_image_key_index
from .conftest import BACKENDS, empty_database_url, listed_ids

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TENANTS = {
    # tenant: its listing/4 key, by hand (account number * 64 + the region's place in
    # KEYED_REGIONS)
    Tenant("123456789012", "us-east-1"): 123456789012 * 64 + 1,
    Tenant("123456789012", "eu-west-1"): 123456789012 * 64 + 23,
    Tenant("000000000000", "us-east-1"): 1,
    Tenant("210987654321", "local-test-1"): 210987654321 * 64,  # an unlisted region: code 0
    Tenant("210987654321", "local-test-2"): 210987654321 * 64,  # shares the key above
    Tenant("acct-x", "us-east-1"): 1,  # not 12 digits: account part 0, shares with 000...
}
SORT_COLUMNS = {
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


def _older(conn: Connection) -> None:
    """The findings table as listing/3 left it: sort indexes on (account_id, region, key[,
    seq]), no `tenant_key`; on SQLite the computed sort keys STORED."""
    seq = "" if conn.dialect.name == "sqlite" else ", seq"
    if conn.dialect.name == "sqlite":
        ddl = str(CreateTable(tables.findings).compile(dialect=conn.dialect))
        old = re.sub(r"\n\s*tenant_key [^\n]*\n", "\n", ddl).replace(" VIRTUAL", " STORED")
        # the three sort keys, and the two columns findings/10 adds (VIRTUAL again after
        # listing/4)
        assert "tenant_key" not in old and old.count(" STORED") == 5, old
        conn.execute(text("DROP TABLE findings"))
        conn.execute(text(old))
        conn.execute(text("CREATE UNIQUE INDEX ix_findings_id ON findings (id)"))
        for name, columns in {
            "ix_findings_image": "repository_id, digest, vulnerability_id",
            "ix_findings_vuln": "vulnerability_id",
            "ix_findings_detail_image": (
                "detail_ref, status_code, repository_id, image_key, severity_rank"
            ),
        }.items():
            conn.execute(text(f"CREATE INDEX {name} ON findings ({columns})"))
        conn.execute(
            text(
                "CREATE INDEX ix_findings_suppressed_rule ON findings (account_id, region, "
                "suppressed_by) WHERE suppressed_by IS NOT NULL"
            )
        )
        rollups.install_triggers(conn)
    else:
        for name in SORT_COLUMNS:
            conn.execute(text(f"DROP INDEX {name}"))
        conn.execute(text("ALTER TABLE findings DROP COLUMN tenant_key"))
    for name, columns in SORT_COLUMNS.items():
        conn.execute(text(f"CREATE INDEX {name} ON findings (account_id, region, {columns}{seq})"))
    m = tables.schema_migrations
    conn.execute(delete(m).where(m.c.subsystem == "listing", m.c.number == 4))
    before_dense_keys(conn)
    before_image_key_index(conn)


def _finding(rng: random.Random, n: int, tenant: Tenant, repository_id: int) -> dict[str, Any]:
    at = NOW + timedelta(minutes=rng.randrange(50))
    return {
        "id": f"{rng.getrandbits(128):032x}",
        "account_id": tenant.account_id,
        "region": tenant.region,
        "repository_id": repository_id,
        "repository_name": "app",
        "digest": f"sha256:{n % 5:064x}",
        "vulnerability_id": f"CVE-2024-{n % 17:04d}",
        "generation": 0,
        "status": rng.choice(["ACTIVE", "SUPPRESSED", "CLOSED"]),
        "severity": rng.choice(["CRITICAL", "HIGH", "LOW"]),
        "fix_available": "YES",
        "exploit_available": "NO",
        "inspector_score": rng.choice([None, 7.5, 9.8]),
        "epss_score": rng.choice([None, 0.5]),
        "source": "osv",
        "first_observed_at": at,
        "last_observed_at": at,
        "updated_at": at,
        "closed_at": None,
        "detail_ref": "d" * 32,
        "suppressed_by": None,
    }


def _indexes(db: Database) -> dict[str, list[Any]]:
    with db.read() as conn:
        return {
            str(ix["name"]): list(ix["column_names"])
            for ix in inspect(conn).get_indexes("findings")
        }


@pytest.mark.parametrize("backend", BACKENDS)
def test_sort_indexes_led_by_account_strings_become_led_by_the_tenant_key(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fresh = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    db = Database(empty_database_url(backend, request, tmp_path, "old.db"))
    rng = random.Random(5)
    try:
        migrate(fresh)
        migrate(db)
        with db.write() as conn:
            _older(conn)
            conn.execute(
                insert(tables.finding_details).values(
                    ref="d" * 32, doc=b"{}", title="a title", created_at=NOW
                )
            )
            stored: list[dict[str, Any]] = []
            for i, tenant in enumerate(TENANTS):
                repository_id = conn.execute(
                    insert(tables.repositories)
                    .values(
                        account_id=tenant.account_id,
                        region=tenant.region,
                        name="app",
                        created_at=NOW,
                    )
                    .returning(tables.repositories.c.id)
                ).scalar_one()
                stored += [_finding(rng, n, tenant, repository_id) for n in range(12 + i)]
            rng.shuffle(stored)  # tenants interleaved in the stored order
            conn.execute(insert(tables.findings), stored)
            seqs = {
                r.id: r.seq
                for r in conn.execute(select(tables.findings.c.id, tables.findings.c.seq))
            }
        assert "tenant_key" not in {c for ix in _indexes(db).values() for c in ix}

        applied = migrate(db)

        assert [(a.subsystem, a.number) for a in applied] == [
            ("listing", 4),
            ("findings", 11),
            ("findings", 14),
        ]
        indexes, fresh_indexes = _indexes(db), _indexes(fresh)
        assert set(indexes) == set(fresh_indexes)
        for name, columns in SORT_COLUMNS.items():
            want = ["tenant_key", *columns.split(", ")]
            assert indexes[name] == (want if backend == "sqlite" else [*want, "seq"]), name
        if backend == "sqlite":
            assert indexes == fresh_indexes
            with db.read() as conn, fresh.read() as other:
                table_sql = "SELECT sql FROM sqlite_master WHERE name = 'findings'"
                made = conn.execute(text(table_sql)).scalar_one()
                assert made.replace('"findings"', "findings", 1) == (
                    other.execute(text(table_sql)).scalar_one()
                )
                assert " STORED" not in made and " VIRTUAL" in made
        f = tables.findings
        with db.write() as conn:
            rows = conn.execute(
                select(f.c.id, f.c.seq, f.c.account_id, f.c.region, f.c.tenant_key, f.c.score_key)
            )
            got = {r.id: r for r in rows}
            assert {i: r.seq for i, r in got.items()} == seqs  # every row kept, in its place
            for put in stored:
                score = put["inspector_score"]
                assert got[put["id"]].score_key == (-1.0 if score is None else score)
            # tenant i stored 12 + i findings: the most, the last tenant, has key 1
            dense = {x: len(TENANTS) - i for i, x in enumerate(TENANTS)}
            for row in got.values():
                tenant = Tenant(row.account_id, row.region)
                assert row.tenant_key == dense[tenant]
            assert TENANTS == {x: tenant_key(x) for x in TENANTS}  # listing/4's, shared
            ft = tables.finding_tenants
            named = conn.execute(select(ft.c.account_id, ft.c.region, ft.c.tenant_key)).all()
            assert {Tenant(a, r): k for a, r, k in named} == dense
            for tenant in TENANTS:
                mine = {r["id"] for r in stored if Tenant(r["account_id"], r["region"]) == tenant}
                for sort in (
                    Sort(),
                    Sort(SortField.FIRST_OBSERVED_AT, SortOrder.ASC),
                    Sort(SortField.INSPECTOR_SCORE, SortOrder.DESC),
                ):
                    ids = listed_ids(conn, tenant, sort)
                    assert len(ids) == len(set(ids)) and set(ids) == mine, (tenant, sort)
            if backend == "sqlite":  # the rollup triggers are still in force
                assert rollups.enabled(conn)
                counted = [sorted(map(tuple, conn.execute(select(x)))) for x in rollups.TABLES]
                rollups.rebuild(conn)
                assert counted == [
                    sorted(map(tuple, conn.execute(select(x)))) for x in rollups.TABLES
                ]
    finally:
        fresh.close()
        db.close()
