"""New findings inserted many rows to a statement on SQLite (`finding_writes.insert_findings`),
or staged in a temporary table and inserted by one statement per `STAGED_ROWS`, end as the same
rows, in the same order, with the same rollups, as the same findings inserted one row at a time
through SQLAlchemy's `executemany` (the per-row triggers counting the rollups, or the batch's own
count, as the batch's size decides)."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dockwatch.model.identity import Tenant
from dockwatch.storage.finding_repo import FindingState, NewFinding
from dockwatch.storage.sql import finding_tenants, finding_writes, rollup_batches
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from tests.unit.storage.sql.test_rollup_inserted import (
    SEVERITIES,
    STATUSES,
    T0,
    TENANTS,
    _details,
    _rollups,
    _store,
)

_STORED = (
    "seq", "id", "account_id", "region", "repository_id", "repository_name", "digest",
    "vulnerability_id", "generation", "first_observed_at", "closed_at", "status",
    "suppressed_by", "severity", "fix_available", "exploit_available", "inspector_score",
    "epss_score", "source", "last_observed_at", "updated_at", "detail_ref",
)  # fmt: skip


def _findings(rng: random.Random, details: list[Any], count: int) -> list[NewFinding]:
    """`count` new findings in a random order, a few states shared as a batch shares them."""
    states = [
        FindingState(
            rng.choice(STATUSES[:2]),
            None,
            rng.choice(SEVERITIES),
            rng.choice(("YES", "NO")),
            rng.choice(("YES", "NO")),
            rng.choice((None, 5.5, 9.8)),
            rng.choice((None, 0.25)),
            rng.choice(("NVD", "GHSA")),
            T0,
            T0,
            ref,
        )  # fmt: skip
        for ref, _, _ in details
    ]
    out = []
    for n in rng.sample(range(count), count):
        account, region = rng.choice(TENANTS)
        repo = rng.randint(1, 3)
        out.append(NewFinding(
            f"f{n:06d}", Tenant(account, region), repo, f"repo-{repo}",
            f"sha256:{rng.randint(1, 6)}", f"CVE-2031-{n:04d}", n % 2, T0, rng.choice(states),
        ))  # fmt: skip
    return out


def _one_by_one(conn: Any, findings: list[NewFinding]) -> None:
    """The simple path: one row a statement, in id order, through SQLAlchemy."""
    for f in sorted(findings, key=lambda f: f.id):
        s = f.state
        (key,) = finding_tenants.ensure_keys(conn, [f.tenant]).values()
        conn.execute(t.findings.insert().values(
            id=f.id, account_id=f.tenant.account_id, region=f.tenant.region, tenant_key=key,
            repository_id=f.repository_id, repository_name=f.repository_name, digest=f.digest,
            vulnerability_id=f.vulnerability_id, generation=f.generation,
            first_observed_at=f.first_observed_at, closed_at=None, status=s.status,
            suppressed_by=s.suppressed_by, severity=s.severity, fix_available=s.fix_available,
            exploit_available=s.exploit_available, inspector_score=s.inspector_score,
            epss_score=s.epss_score, source=s.source, last_observed_at=s.last_observed_at,
            updated_at=s.updated_at, detail_ref=s.detail_ref,
        ))  # fmt: skip


def _stored(db: Database) -> list[tuple[Any, ...]]:
    with db.read() as conn:
        return _stored_in(conn)


def _stored_in(conn: Any) -> list[tuple[Any, ...]]:
    columns = [t.findings.c[c] for c in _STORED]
    return [tuple(r) for r in conn.execute(select(*columns).order_by(t.findings.c.seq))]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Database, Database]]:
    dbs = (Database(f"sqlite:///{tmp_path}/simple.db"), Database(f"sqlite:///{tmp_path}/many.db"))
    for db in dbs:
        migrate(db)
    try:
        yield dbs
    finally:
        for db in dbs:
            db.close()


@pytest.mark.parametrize(
    ("count", "variables", "staged_rows"),
    [
        (2 * finding_writes.ROWS_PER_STATEMENT + 7, None, None),  # a partial last statement
        (rollup_batches.BATCH_MIN + 3, None, None),  # counted by the batch, staged in a round
        (60, 5 * len(finding_writes._INSERT_COLUMNS), None),  # a library binding few variables
        (3, None, None),
        (finding_writes.STAGED_MIN + 211, None, 300),  # staged: four full rounds, a partial one
        (finding_writes.STAGED_MIN - 1, None, None),  # the largest batch in statements
    ],
)
def test_many_rows_a_statement_store_what_one_row_a_statement_stores(
    stores: tuple[Database, Database],
    monkeypatch: pytest.MonkeyPatch,
    count: int,
    variables: int | None,
    staged_rows: int | None,
) -> None:
    if staged_rows is not None:
        monkeypatch.setattr(finding_writes, "STAGED_ROWS", staged_rows)
    rng = random.Random(count)
    details = _details(rng)
    findings = _findings(rng, details, count)
    simple, many = stores
    for db in stores:
        with db.write() as conn:
            _store(conn, details)
    with simple.write() as conn:
        _one_by_one(conn, findings)
    with many.write() as conn:
        if variables is not None:
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, variables)
        finding_writes.insert_findings(conn, findings)
    want = _stored(simple)
    assert len(want) == count
    assert [r[1] for r in want] == sorted(f.id for f in findings)  # id order, seq by seq
    assert _stored(many) == want
    assert _rollups(many) == _rollups(simple)
    with many.read() as conn:  # each row's key is its tenant's; one key a tenant, distinct
        f, ft = t.findings, t.finding_tenants
        keyed = set(conn.execute(select(f.c.account_id, f.c.region, f.c.tenant_key).distinct()))
        named = set(conn.execute(select(ft.c.account_id, ft.c.region, ft.c.tenant_key)))
    assert keyed == named
    assert len({k for _, _, k in keyed}) == len({(a, r) for a, r, _ in keyed})
    assert {(a, r) for a, r, _ in keyed} == {
        (f.tenant.account_id, f.tenant.region) for f in findings
    }


def _batches_and_a_clash(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> tuple[list[Any], list[NewFinding], list[NewFinding], NewFinding]:
    """Details, two staged batches (rounds of 400 rows), and the finding of the first batch to
    store beforehand so that the first batch stops: its last id, in the last round (the rows
    of the rounds before went in, those of its round stay staged)."""
    monkeypatch.setattr(finding_writes, "STAGED_ROWS", 400)
    rng = random.Random(seed)
    details = _details(rng)
    findings = _findings(rng, details, 2 * finding_writes.STAGED_MIN)
    first, second = findings[: finding_writes.STAGED_MIN], findings[finding_writes.STAGED_MIN :]
    return details, first, second, max(first, key=lambda f: f.id)


def test_a_staged_batch_that_fails_leaves_nothing_for_the_next(
    stores: tuple[Database, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A staged batch stopped by a row that cannot go in (an id already stored) stores none of
    its rows, and the next batch on the same connection stores its own rows and no other."""
    details, first, second, clash = _batches_and_a_clash(monkeypatch, 7)
    simple, staged = stores
    for db in stores:
        with db.write() as conn:
            _store(conn, details)
            _one_by_one(conn, [clash])
    with staged.write() as conn:  # the same connection for both batches
        with pytest.raises(IntegrityError), conn.begin_nested():
            finding_writes.insert_findings(conn, first)
        finding_writes.insert_findings(conn, second)
    with simple.write() as conn:
        _one_by_one(conn, second)
    want = _stored(simple)
    assert len(want) == 1 + len(second)
    assert [r[1:] for r in _stored(staged)] == [r[1:] for r in want]
    assert _rollups(staged) == _rollups(simple)


def test_a_staged_batch_stopped_without_a_rollback_leaves_no_row_staged(
    stores: tuple[Database, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the caller goes on after a failed batch without rolling it back, the next batch on
    the connection still inserts its own rows and no row staged for the failed one."""
    details, first, second, clash = _batches_and_a_clash(monkeypatch, 11)
    _, staged = stores
    with staged.write() as conn:
        _store(conn, details)
        _one_by_one(conn, [clash])
        with pytest.raises(IntegrityError):
            finding_writes.insert_findings(conn, first)
        before = {r[1] for r in _stored_in(conn)}
        finding_writes.insert_findings(conn, second)
        after = {r[1] for r in _stored_in(conn)}
    assert clash.id in before
    assert len(before) < len(first)
    assert after == before | {f.id for f in second}
