"""A batch of new findings counted from its own rows (`rollup_batches.inserted_once`) leaves the
rollups exactly where the per-row triggers leave them, and where the grouped statements of
`counted_once` leave them.

Each case inserts the same random batch (several tenants and statuses, every severity and a
few unknown ones, details with and without a title, layers, repeated package names, scores
present and absent) into three SQLite stores already holding findings: one counted by the
triggers row by row, one by `counted_once`, one by `inserted_once`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select

from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import finding_tenants, rollup_batches, rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate

T0 = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
TENANTS = (("111111111111", "eu-west-1"), ("222222222222", "us-east-1"))
STATUSES = ("ACTIVE", "SUPPRESSED", "CLOSED")
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNTRIAGED", "BOGUS")
COLUMNS = (
    "id", "account_id", "region", "repository_id", "repository_name", "digest",
    "vulnerability_id", "generation", "first_observed_at", "status", "severity",
    "fix_available", "exploit_available", "inspector_score", "epss_score", "source",
    "last_observed_at", "updated_at", "detail_ref",
)  # fmt: skip


def _details(rng: random.Random) -> list[tuple[str, str | None, list[tuple[str, str | None]]]]:
    """(ref, title, [(package name, layer)]) of 12 details."""
    out = []
    for n in range(12):
        packages = [
            (
                rng.choice(("openssl", "zlib", "requests")),
                rng.choice(("sha256:l1", "sha256:l2", None)),
            )
            for _ in range(rng.randint(1, 3))
        ]
        out.append((f"d{n:02d}", None if n % 5 == 0 else f"title {n % 4}", packages))
    return out


def _rows(rng: random.Random, details: list[Any], count: int, start: int) -> list[tuple[Any, ...]]:
    rows = []
    for n in range(start, start + count):
        account, region = rng.choice(TENANTS)
        repo = rng.randint(1, 3)
        ref = rng.choice(details)[0]
        rows.append((
            f"f{n:06d}", account, region, repo, f"repo-{repo}",
            f"sha256:{rng.randint(1, 6)}", f"CVE-2031-{int(ref[1:]) % 5:04d}", 0, T0,
            rng.choice(STATUSES), rng.choice(SEVERITIES), rng.choice(("YES", "NO", "PARTIAL")),
            rng.choice(("YES", "NO")), rng.choice((None, 5.5, 9.8)), rng.choice((None, 0.25)),
            rng.choice(("NVD", "GHSA")), T0, T0, ref,
        ))  # fmt: skip
    return rows


def _store(conn: Connection, details: list[Any]) -> None:
    for n in (1, 2, 3):
        conn.execute(t.repositories.insert().values(
            id=n, account_id=TENANTS[0][0], region=TENANTS[0][1], name=f"repo-{n}",
            created_at=T0))  # fmt: skip
    for ref, title, packages in details:
        conn.execute(
            t.finding_details.insert().values(ref=ref, doc=b"{}", title=title, created_at=T0)
        )
        for seq, (name, layer) in enumerate(packages):
            conn.execute(t.detail_packages.insert().values(
                detail_ref=ref, seq=seq, pkg_ref=f"p-{name}", name=name, version="1",
                package_manager="OS", source_layer_hash=layer))  # fmt: skip


def _insert(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    values = [dict(zip(COLUMNS, r, strict=True)) for r in rows]
    keys = finding_tenants.ensure_keys(conn, {Tenant(v["account_id"], v["region"]) for v in values})
    for v in values:
        v["tenant_key"] = keys[Tenant(v["account_id"], v["region"])]
    conn.execute(t.findings.insert(), values)


def _rollups(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    with db.read() as conn:
        return {x.name: sorted(tuple(r) for r in conn.execute(select(x))) for x in rollups.TABLES}


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[list[Database]]:
    dbs = [Database(f"sqlite:///{tmp_path / name}.db") for name in ("rows", "grouped", "own")]
    for db in dbs:
        migrate(db)
    try:
        yield dbs
    finally:
        for db in dbs:
            db.close()


@pytest.mark.parametrize("seed", range(4))
def test_inserted_batch_counts_as_the_triggers_and_the_grouped_statements(
    stores: list[Database], seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    details = _details(rng)
    before = _rows(rng, details, 150, 0)
    batch = _rows(rng, details, 400, 1000)
    rows, grouped, own = stores
    for db in stores:
        with db.write() as conn:
            _store(conn, details)
            _insert(conn, before)  # counted by the triggers
    monkeypatch.setattr(rollup_batches, "BATCH_MIN", 1)
    with rows.write() as conn:
        _insert(conn, batch)
    with grouped.write() as conn:
        with rollup_batches.counted_once(conn, [r[0] for r in batch], new=True):
            _insert(conn, batch)
    with own.write() as conn:
        with rollup_batches.inserted_once(conn, COLUMNS, batch):
            _insert(conn, batch)
    want = _rollups(rows)
    assert sum(len(v) for v in want.values()) > 100
    assert _rollups(grouped) == want
    assert _rollups(own) == want


def test_small_batches_keep_the_triggers(stores: list[Database]) -> None:
    rng = random.Random(7)
    details = _details(rng)
    batch = _rows(rng, details, 20, 0)
    rows, _, own = stores
    for db in (rows, own):
        with db.write() as conn:
            _store(conn, details)
    with rows.write() as conn:
        _insert(conn, batch)
    with own.write() as conn:
        with rollup_batches.inserted_once(conn, COLUMNS, batch):
            assert conn.execute(select(t.finding_rollup_deferrals)).first() is None
            _insert(conn, batch)
    assert _rollups(own) == _rollups(rows)
