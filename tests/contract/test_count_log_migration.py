"""Migration findings/6 on both backends: a PostgreSQL database made before it (rollup tables
empty or stale, no count log) gets the log, its triggers and rollups filled from the findings
stored, equal to a recount in plain Python and kept from then on; SQLite gets the empty log and
keeps its rollups as they were."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, func, inspect, select, text, update

from dockwatch.storage.sql import pg_rollups, rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.store_copy import copy_tables
from tests.unit.queries import findings_db as fdb
from tests.unit.storage.sql.test_rollup_batches import (
    _COUNTERS,
    ROLLUPS,
    _recount,
    _state,
    _stored_counts,
)


def _expected(db: Database, account: str) -> dict[str, object]:
    recounted = _recount(_state(db, account))
    return {
        name: {k: v for k, v in counts.items() if k[-1] in _COUNTERS[name]}
        for name, counts in recounted.items()
    }


def _stored(db: Database, account: str) -> dict[str, object]:
    return {name: dict(c) for name, c in _stored_counts(_state(db, account)).items()}


def _back_to_older(db: Database) -> None:
    """As before findings/6 on PostgreSQL: no log, no triggers, the rollups empty but for a
    stale row, the record gone."""
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            pg_rollups.drop_triggers(conn)
            conn.execute(text(f"DROP FUNCTION IF EXISTS {pg_rollups.FUNCTION}()"))
            for table in ROLLUPS:
                conn.execute(table.delete())
            conn.execute(
                t.finding_package_counts.insert().values(
                    account_id=fdb.TENANT.account_id, region=fdb.TENANT.region,
                    status="ACTIVE", package_name="stale", critical=7, high=0, medium=0, low=0,
                    informational=0, untriaged=0,
                )
            )  # fmt: skip
        conn.execute(text(f"DROP TABLE {t.finding_count_log.name}"))
        m = t.schema_migrations
        conn.execute(delete(m).where(m.c.subsystem == "findings", m.c.number == 6))


def test_postgresql_rollups_filled_and_kept(tmp_path: Path, postgres_url: str) -> None:
    built = fdb.build_db(tmp_path / "f.db", 4, images=16)
    pg = Database(postgres_url)
    try:
        copy_tables(built.db, pg)
        _back_to_older(pg)
        with pg.read() as conn:
            assert not rollups.enabled(conn)
        applied = migrate(pg)
        assert [(a.subsystem, a.number) for a in applied] == [("findings", 6)]
        with pg.read() as conn:
            assert rollups.enabled(conn)
        for tenant in (fdb.TENANT, fdb.OTHER):
            expected = _expected(pg, tenant.account_id)
            assert any(expected.values())
            assert _stored(pg, tenant.account_id) == expected
        with pg.write() as conn:  # the triggers log a flip of every ACTIVE finding
            f = t.findings
            conn.execute(update(f).where(f.c.status == "ACTIVE").values(status="SUPPRESSED"))
            logged = conn.execute(select(func.count()).select_from(t.finding_count_log)).scalar()
            assert logged
            pg_rollups.fold(conn)
        for tenant in (fdb.TENANT, fdb.OTHER):
            assert _stored(pg, tenant.account_id) == _expected(pg, tenant.account_id)
        assert migrate(pg) == []
    finally:
        pg.close()
        built.db.close()


def test_sqlite_gets_the_empty_log(tmp_path: Path) -> None:
    built = fdb.build_db(tmp_path / "f.db", 4, images=8)
    db = built.db
    try:
        before = _stored(db, fdb.TENANT.account_id)
        _back_to_older(db)
        applied = migrate(db)
        assert [(a.subsystem, a.number) for a in applied] == [("findings", 6)]
        with db.read() as conn:
            assert t.finding_count_log.name in inspect(conn).get_table_names()
            assert not conn.execute(select(func.count()).select_from(t.finding_count_log)).scalar()
        assert _stored(db, fdb.TENANT.account_id) == before == _expected(db, fdb.TENANT.account_id)
    finally:
        db.close()
