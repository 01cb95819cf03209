"""Migration listing/5 on both backends: on SQLite a findings table whose times are
`DateTime` text (as every release before it stored them) gets integer microseconds, the table,
indexes and triggers of a fresh database, and every row with the same instants to the
microsecond; on PostgreSQL nothing changes. Either way, listings in time order and date
filters give what a brute force over the inserted rows gives."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Connection, MetaData, Table, delete, insert, inspect, select, text
from sqlalchemy.schema import CreateTable

from dockwatch.model.finding_criteria import Criteria, DateFilter
from dockwatch.model.finding_sort import Sort, SortField, SortOrder
from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import finding_tenants, rollups, tables
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.finding_queries import listing_sql
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.migrations.epoch_times import TIME_COLUMNS
from dockwatch.storage.sql.schema.base import UTC_TIMESTAMP

from .conftest import empty_database_url

TENANT = Tenant("123456789012", "us-east-1")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
FIELDS = {
    SortField.FIRST_OBSERVED_AT: "first_observed_at",
    SortField.LAST_OBSERVED_AT: "last_observed_at",
}


def _text_findings() -> Table:
    """`findings` as releases before listing/5 declared it: the times `DateTime` (text on
    SQLite), the other columns as now."""
    return Table(
        "findings",
        MetaData(),
        *[
            Column(c.name, UTC_TIMESTAMP if c.name in TIME_COLUMNS else c.type)
            for c in tables.findings.columns
            if c.computed is None
        ],
    )


def _older(conn: Connection, declared: str) -> Table:
    """The findings table as listing/4 left it (on SQLite its time columns `declared`, with its
    indexes and rollup triggers), listing/5 not recorded; the table to insert rows through.
    Declared BIGINT holding text is what an older database has once listing/4 (or /3) of the
    same run made the table again from the current declaration and copied its rows."""
    m = tables.schema_migrations
    conn.execute(delete(m).where(m.c.subsystem == "listing", m.c.number == 5))
    if conn.dialect.name != "sqlite":
        return tables.findings
    ddl = str(CreateTable(tables.findings).compile(dialect=conn.dialect))
    for name in TIME_COLUMNS:
        assert f"\t{name} BIGINT" in ddl, name
        ddl = ddl.replace(f"\t{name} BIGINT", f"\t{name} {declared}")
    conn.execute(text("DROP TABLE findings"))
    conn.execute(text(ddl))
    for index in tables.findings.indexes:
        index.create(conn, checkfirst=True)
    rollups.install_triggers(conn)
    return _text_findings()


def _instant(rng: random.Random) -> datetime:
    """A time to the microsecond, in UTC as the service's clock gives it (SQLite's `DateTime`
    text keeps no zone); a few share a second or an instant."""
    base = NOW + timedelta(seconds=rng.choice([0, 1, rng.randrange(86_400 * 400)]))
    return base + timedelta(microseconds=rng.choice([0, 1, 999_999, rng.randrange(1_000_000)]))


def _finding(rng: random.Random, n: int, repository_id: int) -> dict[str, Any]:
    first = _instant(rng)
    closed = rng.random() < 0.3
    return {
        "id": f"{rng.getrandbits(128):032x}",
        "account_id": TENANT.account_id,
        "region": TENANT.region,
        "repository_id": repository_id,
        "repository_name": "app",
        "digest": f"sha256:{n % 5:064x}",
        "vulnerability_id": f"CVE-2024-{n % 17:04d}",
        "generation": 0,
        "status": "CLOSED" if closed else rng.choice(["ACTIVE", "SUPPRESSED"]),
        "severity": rng.choice(["CRITICAL", "HIGH", "LOW"]),
        "fix_available": "YES",
        "exploit_available": "NO",
        "inspector_score": rng.choice([None, 7.5]),
        "epss_score": None,
        "source": "osv",
        "first_observed_at": first,
        "last_observed_at": rng.choice([first, _instant(rng)]),
        "updated_at": _instant(rng),
        "closed_at": _instant(rng) if closed else None,
        "detail_ref": "d" * 32,
        "suppressed_by": None,
    }


def _listed(conn: Connection, criteria: Criteria, sort: Sort) -> list[str]:
    """Every finding id of the listing in `sort`, page after page of 7."""
    ids: list[str] = []
    after = None
    while True:
        page = listing_sql.list_page(conn, TENANT, criteria, sort, 7, after)
        ids += [x.id for x in page.findings]
        if page.next is None:
            return ids
        after = page.next


def _schema(db: Database) -> tuple[str, dict[str, Any], set[str]]:
    with db.read() as conn:
        table = conn.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'findings'")
        ).scalar_one()
        indexes = {
            str(ix["name"]): ix["column_names"] for ix in inspect(conn).get_indexes("findings")
        }
        triggers = {
            r[0]
            for r in conn.execute(
                text(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'findings'"
                )
            )
        }
    return table.replace('"findings"', "findings", 1), indexes, triggers


@pytest.mark.parametrize(
    ("backend", "declared"),
    [("sqlite", "DATETIME"), ("sqlite", "BIGINT"), ("postgresql", "TIMESTAMP WITH TIME ZONE")],
)
def test_text_times_become_integer_microseconds_with_the_same_instants(
    backend: str, declared: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fresh = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    db = Database(empty_database_url(backend, request, tmp_path, "old.db"))
    rng = random.Random(11)
    try:
        migrate(fresh)
        migrate(db)
        with db.write() as conn:
            old = _older(conn, declared)
            conn.execute(
                insert(tables.finding_details).values(
                    ref="d" * 32, doc=b"{}", title="a title", created_at=NOW
                )
            )
            repository_id = conn.execute(
                insert(tables.repositories)
                .values(
                    account_id=TENANT.account_id, region=TENANT.region, name="app", created_at=NOW
                )
                .returning(tables.repositories.c.id)
            ).scalar_one()
            dense = finding_tenants.ensure_keys(conn, [TENANT])[TENANT]
            stored = [{**_finding(rng, n, repository_id), "tenant_key": dense} for n in range(90)]
            conn.execute(insert(old), stored)
            if backend == "sqlite":  # the times went in as text, as releases before wrote them
                kinds = conn.execute(
                    text("SELECT DISTINCT typeof(first_observed_at) FROM findings")
                ).all()
                assert kinds == [("text",)]
            seqs = {r.id: r.seq for r in conn.execute(select(old.c.id, old.c.seq))}

        applied = migrate(db)

        assert [(a.subsystem, a.number) for a in applied] == [("listing", 5)]
        if backend == "sqlite":
            assert _schema(db) == _schema(fresh)
            with db.read() as conn:
                for name in TIME_COLUMNS:
                    kinds = conn.execute(
                        text(
                            f"SELECT DISTINCT typeof({name}) FROM findings WHERE {name} IS NOT NULL"
                        )
                    ).all()
                    assert kinds == [("integer",)], name
        f = tables.findings
        with db.read() as conn:
            got = {r.id: r for r in conn.execute(select(f))}
        assert {i: r.seq for i, r in got.items()} == seqs  # every row kept, in its place
        for put in stored:
            row = got[put["id"]]
            for name in TIME_COLUMNS:
                want, have = put[name], getattr(row, name)
                if want is None:
                    assert have is None
                else:  # the same instant, to the microsecond, read back in UTC
                    assert have == want and have.utcoffset() == timedelta(0), name

        by_seq = sorted(stored, key=lambda r: seqs[r["id"]])
        with db.read() as conn:
            for field, column in FIELDS.items():
                for order in SortOrder:
                    want = [
                        r["id"]
                        for r in sorted(
                            by_seq,
                            key=lambda r: (r[column], seqs[r["id"]]),
                            reverse=order is SortOrder.DESC,
                        )
                    ]
                    assert _listed(conn, Criteria(), Sort(field, order)) == want, (field, order)
            moments = sorted(r["first_observed_at"] for r in stored)
            for key, column in (
                ("firstObservedAt", "first_observed_at"),
                ("lastObservedAt", "last_observed_at"),
                ("updatedAt", "updated_at"),
            ):
                for start, end in (
                    (moments[10], moments[40]),
                    (None, moments[5]),
                    (moments[80], None),
                ):
                    window = DateFilter(start, end)
                    criteria = Criteria(dates={key: (window,)})
                    want_ids = {r["id"] for r in stored if window.test(r[column])}
                    sort = Sort(SortField.LAST_OBSERVED_AT, SortOrder.ASC)
                    assert set(_listed(conn, criteria, sort)) == want_ids, (key, start, end)
    finally:
        fresh.close()
        db.close()
