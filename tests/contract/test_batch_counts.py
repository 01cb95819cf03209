"""A large batch of new findings counted by its writer (`rollup_batches.inserted_once`), or of
updates (`updated_once`), leaves the rollups exactly where the per-row triggers leave them, on
both backends. On PostgreSQL the count log's triggers stand aside for the batch while its
transaction holds the fold lock (`pg_batch_counts.py`, migration findings/17); when another
transaction folds, the batch is logged and folded as before; after the batch, the
transaction's other writes are logged again.

Each case of new findings inserts the same random batch of `test_rollup_inserted`'s kind (several tenants and
statuses, every severity and an unknown one, details with and without a title, layers, repeated
package names, scores present and absent) into a store already holding findings, once row by
row (the triggers) and once as a counted batch, each in a transaction rolled back after its
rollups are read.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, bindparam, delete, func, select, text, update

from dockwatch.storage.sql import pg_rollups, rollup_batches, rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from tests.unit.storage.sql.test_rollup_inserted import COLUMNS, _details, _insert, _rows, _store

from .conftest import BACKENDS, empty_database_url


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    database = Database(empty_database_url(request.param, request, tmp_path))
    migrate(database)
    try:
        yield database
    finally:
        database.close()


def _filled(db: Database, seed: int) -> list[tuple[Any, ...]]:
    """The store with details and 150 findings (counted by the triggers, the log folded); the
    400 findings of the batch."""
    rng = random.Random(seed)
    details = _details(rng)
    before = _rows(rng, details, 150, 0)
    with db.write() as conn:
        _store(conn, details)
        _insert(conn, before)
    _settled(db)
    at = COLUMNS.index("first_observed_at")
    return [
        # first observed within three seconds, at any microsecond: the first-seen rollup is
        # keyed by the whole second
        (*r[:at], r[at] + timedelta(microseconds=rng.randrange(3_000_000)), *r[at + 1 :])
        for r in _rows(rng, details, 400, 1000)
    ]


def _settled(db: Database) -> None:
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            pg_rollups.fold(conn, wait=True)


def _rollups(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every rollup table's rows as the transaction sees them, the count log folded first."""
    if conn.dialect.name == "postgresql":
        pg_rollups.fold(conn, wait=True)
    return {x.name: sorted(tuple(r) for r in conn.execute(select(x))) for x in rollups.TABLES}


def _counting(found: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows that count something. A finding of a severity outside the six (the batch has
    some) leaves a row of zeros; a fold deletes such rows among the keys it folds when it
    counts something out, so whether they remain depends on which writes a fold met together.
    They count nothing either way."""
    severities = {
        x.name: [list(x.c.keys()).index(s) for s in t.ROLLUP_SEVERITIES] for x in rollups.TABLES
    }
    return {
        name: [r for r in rows if any(r[i] for i in severities[name])]
        for name, rows in found.items()
    }


def _logged(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(t.finding_count_log)).scalar_one()


def _rolled_back(db: Database, write: Any) -> Any:
    """What `write(conn)` returns, its transaction rolled back after."""
    with db.engine.connect() as conn:
        tx = conn.begin()
        try:
            return write(conn)
        finally:
            tx.rollback()


def _row_by_row(db: Database, batch: list[tuple[Any, ...]]) -> dict[str, Any]:
    def write(conn: Connection) -> dict[str, Any]:
        _insert(conn, batch)
        return _rollups(conn)

    found: dict[str, Any] = _rolled_back(db, write)
    return found


@pytest.mark.parametrize("seed", range(3))
def test_a_counted_batch_leaves_the_rollups_where_the_triggers_do(
    db: Database, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = _filled(db, seed)
    _counted_by_the_writer(
        db,
        monkeypatch,
        _row_by_row(db, batch),
        lambda conn: rollup_batches.inserted_once(conn, COLUMNS, batch),
        lambda conn: _insert(conn, batch),
    )


def _counted_by_the_writer(
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    want: dict[str, Any],
    batch_of: Callable[[Connection], AbstractContextManager[None]],
    write: Callable[[Connection], object],
) -> None:
    """`write(conn)` inside the writer's counted batch (`batch_of(conn)`, however small) leaves
    the rollups at `want`, what the triggers leave; on PostgreSQL nothing is logged for it (the
    triggers stand aside)."""
    assert sum(len(v) for v in want.values()) > 100
    monkeypatch.setattr(rollup_batches, "BATCH_MIN", 1)

    def counted(conn: Connection) -> tuple[int | None, dict[str, Any]]:
        logged = None
        with batch_of(conn):
            write(conn)
            if conn.dialect.name == "postgresql":
                logged = _logged(conn)
        return logged, _rollups(conn)

    logged, got = _rolled_back(db, counted)
    assert got == want
    if db.engine.dialect.name == "postgresql":
        assert logged == 0


def test_a_batch_is_logged_while_another_transaction_folds(
    pg: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = _filled(pg, 11)
    want = _row_by_row(pg, batch)
    monkeypatch.setattr(rollup_batches, "BATCH_MIN", 1)
    holding, release = threading.Event(), threading.Event()

    def fold_elsewhere() -> None:
        with pg.engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": pg_rollups.FOLD_LOCK_KEY})
            holding.set()
            release.wait(30)

    other = threading.Thread(target=fold_elsewhere)
    other.start()
    try:
        assert holding.wait(30)

        def write(conn: Connection) -> int:
            with rollup_batches.inserted_once(conn, COLUMNS, batch):
                _insert(conn, batch)
                return _logged(conn)

        with pg.engine.connect() as conn:
            tx = conn.begin()
            logged = write(conn)
            tx.commit()
    finally:
        release.set()
        other.join()
    assert logged == len(batch)  # one log row per new finding, left for a later fold
    with pg.write() as conn:
        assert _rollups(conn) == want


def test_the_transaction_logs_again_after_the_batch(
    pg: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = _filled(pg, 5)
    monkeypatch.setattr(rollup_batches, "BATCH_MIN", 1)
    f = t.findings
    flipped = [r[0] for r in batch if r[9] == "ACTIVE"][:10]
    assert flipped

    def row_by_row(conn: Connection) -> dict[str, Any]:
        _insert(conn, batch)
        conn.execute(update(f).where(f.c.id.in_(flipped)).values(status="SUPPRESSED"))
        return _rollups(conn)

    def counted(conn: Connection) -> tuple[int, dict[str, Any]]:
        with rollup_batches.inserted_once(conn, COLUMNS, batch):
            _insert(conn, batch)
        conn.execute(update(f).where(f.c.id.in_(flipped)).values(status="SUPPRESSED"))
        return _logged(conn), _rollups(conn)

    want = _rolled_back(pg, row_by_row)
    logged, got = _rolled_back(pg, counted)
    assert logged == 2 * len(flipped)  # each update counted out, then in again
    assert _counting(got) == _counting(want)


def test_findings_17_makes_older_triggers_stand_aside(
    pg: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = _filled(pg, 3)
    want = _row_by_row(pg, batch)
    with pg.write() as conn:
        # the triggers as findings/6 to /16 made them: no WHEN on the setting
        pg_rollups.drop_triggers(conn)
        setting = f" WHEN (current_setting('{pg_rollups.DEFERRED_SETTING}', true)"
        for ddl in pg_rollups.trigger_ddl():
            older = ddl.replace(setting + " IS DISTINCT FROM 'on')", "")
            older = older.replace(
                f" AND current_setting('{pg_rollups.DEFERRED_SETTING}', true)"
                " IS DISTINCT FROM 'on'",
                "",
            )
            assert pg_rollups.DEFERRED_SETTING not in older
            conn.exec_driver_sql(older)
        m = t.schema_migrations
        conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number == 17))
        assert pg_rollups.installed(conn)
        assert not pg_rollups.defers_counts(conn)
    monkeypatch.setattr(rollup_batches, "BATCH_MIN", 1)

    def write(conn: Connection) -> tuple[int, dict[str, Any]]:
        with rollup_batches.inserted_once(conn, COLUMNS, batch):
            _insert(conn, batch)
            logged = _logged(conn)
        return logged, _rollups(conn)

    logged, got = _rolled_back(pg, write)
    assert (logged, got) == (len(batch), want)  # older triggers: logged, as before
    applied = migrate(pg)
    assert [(a.subsystem, a.number) for a in applied] == [("findings", 17)]
    with pg.read() as conn:
        assert pg_rollups.defers_counts(conn)
    logged, got = _rolled_back(pg, write)
    assert (logged, got) == (0, want)


UPDATED = (
    "status", "severity", "fix_available", "exploit_available", "inspector_score",
    "epss_score", "source", "detail_ref", "updated_at",
)  # fmt: skip
"""What a batch of updates sets: every counted column a writer changes, and one that counts
nothing."""
SIX = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNTRIAGED")


@pytest.mark.parametrize("seed", range(3))
def test_a_batch_of_updates_counted_by_its_writer_leaves_the_rollups_where_the_triggers_do(
    db: Database, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rollup_batches.updated_once`: 300 of 550 stored findings given random new values (and
    one id that names no finding), once row by row through the triggers and once as a batch
    counted from the rows read before it and the values set. Every severity is one of the six
    here: a rollup row whose severities all reach zero is deleted, so a finding of an unknown
    severity (counted in no severity, but in the fix counts) would leave counts that depend
    on the order its neighbours were counted out and in."""
    rng = random.Random(seed)
    details = _details(rng)
    at = COLUMNS.index("severity")
    stored = [
        (*r[:at], "MEDIUM" if r[at] not in SIX else r[at], *r[at + 1 :])
        for r in _rows(rng, details, 550, 0)
    ]
    with db.write() as conn:
        _store(conn, details)
        _insert(conn, stored)
    _settled(db)
    chosen = rng.sample([r[0] for r in stored], 300) + ["f-missing"]
    later = stored[0][COLUMNS.index("updated_at")] + timedelta(days=1)
    values = {
        fid: (
            rng.choice(("ACTIVE", "SUPPRESSED", "CLOSED")), rng.choice(SIX),
            rng.choice(("YES", "NO", "PARTIAL")), rng.choice(("YES", "NO")),
            rng.choice((None, 1.5, 9.8)), rng.choice((None, 0.75)), rng.choice(("NVD", "OSV")),
            rng.choice(details)[0], later,
        )
        for fid in chosen
    }  # fmt: skip
    f = t.findings
    statement = (
        update(f)
        .where(f.c.id == bindparam("b_id"))
        .values({c: bindparam(f"b_{c}") for c in UPDATED})
    )
    params = [
        {"b_id": fid, **{f"b_{c}": v for c, v in zip(UPDATED, row, strict=True)}}
        for fid, row in sorted(values.items())
    ]

    def row_by_row(conn: Connection) -> dict[str, Any]:
        conn.execute(statement, params)
        return _rollups(conn)

    _counted_by_the_writer(
        db,
        monkeypatch,
        _rolled_back(db, row_by_row),
        lambda conn: rollup_batches.updated_once(conn, UPDATED, values),
        lambda conn: conn.execute(statement, params),
    )
