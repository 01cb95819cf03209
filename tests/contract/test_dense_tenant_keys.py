"""Dense tenant keys on both backends (`finding_tenants`, migration findings/11).

A database from before findings/11 (`tenant_key` computed from the account and region, no
`finding_tenants`) gets a key per tenant, numbered as worked out here from the stored rows, and
then answers listings and aggregations exactly as a database created with dense keys does. Two
tenants of one region whose findings are interleaved get different keys, and each one's
listings and aggregations hold its findings only: the same as a database holding nothing else.
A key added in a transaction that rolls back is never handed out for the tenant later."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, delete, inspect, select, text

from dockwatch.model.finding_sort import Sort, SortField, SortOrder
from dockwatch.model.identity import Tenant
from dockwatch.queries import aggregations as ag
from dockwatch.storage.finding_repo import FindingState, NewFinding
from dockwatch.storage.sql import finding_tenants, finding_writes
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.finding_query_repo import SqlFindingQueryRepo
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.schema.findings import TENANT_KEY_SQL
from tests.unit.queries import findings_db as fdb
from tests.unit.storage.sql.test_rollup_inserted import SEVERITIES, T0, _details, _store

from .conftest import BACKENDS, empty_database_url, listed_ids, random_findings

KINDS = ("REPOSITORY", "AWS_ECR_CONTAINER", "PACKAGE", "TITLE", "ACCOUNT", "FINDING_TYPE")
SORTS = (
    Sort(),
    Sort(SortField.FIRST_OBSERVED_AT, SortOrder.ASC),
    Sort(SortField.INSPECTOR_SCORE, SortOrder.DESC),
    Sort(SortField.FINDING_STATUS, SortOrder.ASC),
)
A, B = Tenant("123456789012", "us-east-1"), Tenant("123456789013", "us-east-1")
C = Tenant("123456789012", "eu-west-1")  # A's account in another region


def _aggregations(conn: Connection, tenant: Tenant) -> list[Any]:
    out = []
    for kind in KINDS:
        body = {"aggregationType": kind, "maxResults": 100}
        answer = ag.aggregate(SqlFindingQueryRepo(conn), tenant, ag.parse_request(body))
        out.append(answer["responses"])
    return out


def _answers(db: Database, tenants: list[Tenant]) -> list[Any]:
    with db.read() as conn:
        return [
            (tenant, sort.field, listed_ids(conn, [tenant], sort), _aggregations(conn, tenant))
            for tenant in tenants
            for sort in SORTS
        ]


def _before(conn: Connection) -> None:
    """As before findings/11: `tenant_key` computed by the database (VIRTUAL on SQLite, STORED
    on PostgreSQL) under the same sort indexes, no `finding_tenants`; the record gone."""
    keyed = [
        str(ix["name"])
        for ix in inspect(conn).get_indexes("findings")
        if "tenant_key" in ix["column_names"]
    ]
    for name in keyed:
        conn.execute(text(f"DROP INDEX {name}"))
    kind = "VIRTUAL" if conn.dialect.name == "sqlite" else "STORED"
    conn.execute(text("ALTER TABLE findings DROP COLUMN tenant_key"))
    conn.execute(
        text(
            f"ALTER TABLE findings ADD COLUMN tenant_key BIGINT "
            f"GENERATED ALWAYS AS ({TENANT_KEY_SQL}) {kind}"
        )
    )
    for index in t.FINDING_SORT_INDEXES:
        index.create(conn, checkfirst=True)
    conn.execute(text("DROP TABLE finding_tenants"))
    m = t.schema_migrations
    conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number == 11))


def _indexes(conn: Connection) -> dict[str, list[Any]]:
    return {
        str(ix["name"]): list(ix["column_names"]) for ix in inspect(conn).get_indexes("findings")
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_older_database_gets_dense_keys_and_answers_as_a_fresh_one(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    tenants = [fdb.TENANT, fdb.OTHER]
    reference = fdb.build_db(tmp_path / "reference.db", 6, images=30)  # same seed, same store
    try:
        expected = _answers(reference.db, tenants)
        with reference.db.read() as conn:
            fresh_indexes = _indexes(conn)
            fresh_sql = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'findings'")
            ).scalar_one()
    finally:
        reference.db.close()
    assert all(listed for _, _, listed, _ in expected)
    with random_findings(backend, request, tmp_path, 6, 30) as (_built, db):
        with db.write() as conn:
            _before(conn)
            f = t.findings
            rows = conn.execute(select(f.c.account_id, f.c.region, f.c.tenant_key)).all()
        assert {k for _, _, k in rows} != {1, 2}  # the arithmetic keys

        applied = migrate(db)

        assert [(a.subsystem, a.number) for a in applied] == [("findings", 11)]
        # numbered by their number of findings, the most first, then by account and region
        counts = Counter(Tenant(a, r) for a, r, _ in rows)
        order = sorted(counts, key=lambda x: (-counts[x], x.account_id, x.region))
        dense = {tenant: n for n, tenant in enumerate(order, 1)}
        with db.read() as conn:
            got = conn.execute(select(f.c.account_id, f.c.region, f.c.tenant_key)).all()
            ft = t.finding_tenants
            named = conn.execute(select(ft.c.account_id, ft.c.region, ft.c.tenant_key)).all()
            indexes = _indexes(conn)
            column = [c for c in inspect(conn).get_columns("findings") if c["name"] == "tenant_key"]
            if backend == "sqlite":
                made = conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE name = 'findings'")
                ).scalar_one()
                assert made.replace('"findings"', "findings", 1) == fresh_sql
        assert len(got) == len(rows)
        assert all(k == dense[Tenant(a, r)] for a, r, k in got)
        assert {Tenant(a, r): k for a, r, k in named} == dense
        assert "computed" not in column[0] and not column[0]["nullable"]
        if backend == "sqlite":
            assert indexes == fresh_indexes
        else:
            assert set(indexes) == set(fresh_indexes)
        for name, columns in indexes.items():
            if "tenant_key" in columns:
                assert columns[0] == "tenant_key", name
        assert _answers(db, tenants) == expected
        assert migrate(db) == []


def _findings(rng: random.Random, tenants: list[Tenant], refs: list[str]) -> list[NewFinding]:
    """Findings of `tenants` interleaved: each in turn, in random images and states."""
    out = []
    for n in range(60 * len(tenants)):
        tenant = tenants[n % len(tenants)]
        repo = rng.randint(1, 3)
        state = FindingState(
            rng.choice(("ACTIVE", "SUPPRESSED")), None, rng.choice(SEVERITIES[:6]),
            rng.choice(("YES", "NO")), "NO", rng.choice((None, 5.5, 9.8)), None, "NVD", T0, T0,
            rng.choice(refs),
        )  # fmt: skip
        out.append(NewFinding(
            f"f{n:05d}", tenant, repo, f"repo-{repo}", f"sha256:{rng.randint(1, 4)}",
            f"CVE-2031-{n % 9:04d}", 0, T0, state,
        ))  # fmt: skip
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_tenants_with_interleaved_findings_get_their_own_keys_and_answers(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    rng = random.Random(11)
    details = _details(rng)
    written = _findings(rng, [A, B, C], [ref for ref, _, _ in details])
    db = Database(empty_database_url(backend, request, tmp_path, "all.db"))
    alone = {x: Database(f"sqlite:///{tmp_path / f'{x.account_id}-{x.region}.db'}") for x in (A, B)}
    try:
        for one in [db, *alone.values()]:
            migrate(one)
            with one.write() as conn:
                _store(conn, details)
        for part in range(0, len(written), 50):  # batches in stored order, tenants interleaved
            with db.write() as conn:
                finding_writes.insert_findings(conn, written[part : part + 50])
        for tenant, one in alone.items():
            with one.write() as conn:
                finding_writes.insert_findings(conn, [x for x in written if x.tenant == tenant])
        with db.read() as conn:
            ft, f = t.finding_tenants, t.findings
            named = conn.execute(select(ft.c.account_id, ft.c.region, ft.c.tenant_key))
            keys = {Tenant(a, r): k for a, r, k in named}
            stored = conn.execute(select(f.c.id, f.c.account_id, f.c.region, f.c.tenant_key))
            by_id = {i: (Tenant(a, r), k) for i, a, r, k in stored}
            mine = {x: {i for i, (owner, _) in by_id.items() if owner == x} for x in (A, B, C)}
            for tenant in (A, B):
                for sort in SORTS:
                    ids = listed_ids(conn, [tenant], sort)
                    assert len(ids) == len(set(ids)) and set(ids) == mine[tenant], sort
            both = listed_ids(conn, [A, B], Sort())
            assert len(both) == len(set(both)) and set(both) == mine[A] | mine[B]
            answers = {x: _aggregations(conn, x) for x in (A, B)}
        assert set(keys) == {A, B, C} and len(set(keys.values())) == 3
        assert all(k == keys[owner] for owner, k in by_id.values())
        assert {x: len(ids) for x, ids in mine.items()} == Counter(x.tenant for x in written)
        for tenant, one in alone.items():
            with one.read() as conn:
                assert answers[tenant] == _aggregations(conn, tenant), tenant
                assert listed_ids(conn, [tenant], Sort()) == _listed_in(db, tenant)
    finally:
        db.close()
        for one in alone.values():
            one.close()


def _listed_in(db: Database, tenant: Tenant) -> list[str]:
    with db.read() as conn:
        return listed_ids(conn, [tenant], Sort())


class _RolledBack(Exception):
    """Ends a write block without committing it."""


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_key_added_in_a_transaction_rolled_back_is_not_kept(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    db = Database(empty_database_url(backend, request, tmp_path))
    try:
        migrate(db)
        with pytest.raises(_RolledBack), db.write() as conn:
            finding_tenants.ensure_keys(conn, [A])
            assert finding_tenants.key_of(conn, A) is not None  # seen in its own transaction
            raise _RolledBack
        with db.write() as conn:
            assert finding_tenants.key_of(conn, A) is None
            b = finding_tenants.ensure_keys(conn, [B])[B]  # may take the number A had
            a = finding_tenants.ensure_keys(conn, [A])[A]
        with db.read() as conn:
            assert finding_tenants.key_of(conn, A) == a != b == finding_tenants.key_of(conn, B)
            ft = t.finding_tenants
            rows = conn.execute(select(ft.c.account_id, ft.c.region, ft.c.tenant_key))
            named = {Tenant(x, r): k for x, r, k in rows}
        assert named == {A: a, B: b}
    finally:
        db.close()
