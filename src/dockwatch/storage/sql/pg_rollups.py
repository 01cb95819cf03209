"""PostgreSQL's rollups: a count log appended by row triggers, folded into the rollup tables.

SQLite's triggers update a rollup row in place (`rollups.py`); several PostgreSQL workers doing
that at once would all update the same package and title rows: each waits for the other's
commit, and two that meet their rows in opposite orders deadlock. Here no writer updates a
shared row:

1. Row triggers on `findings` append the finding's counted columns to `finding_count_log`
   (`sign` 1 for a row counted in, -1 for one counted out; an update whose counted columns
   are unchanged appends nothing). The log has no key and no index: appending never waits.
2. `fold` moves the log into the rollup tables: one transaction at a time (a transaction-level
   advisory lock, only ever tried, so nobody waits on it) deletes the log rows it sees and adds
   their grouped counts to the rollups, then deletes rollup rows whose counts reached zero.
   Only a fold writes rollup rows, so their row locks are never contended. Rows of writers
   that have not committed are invisible to it and stay for a later fold.
3. A reader sums the rollup rows and the log rows it sees (`current`): each statement reads
   one snapshot, in which every committed change is in exactly one of the two.

The finding writer folds after each batch it writes (`rollup_batches.counted_once`), inside
its transaction; an aggregation folds what other paths left (suppression flips, purges) before
it reads. Both only try the lock: when another transaction holds it, the rows wait in the log
and the reader adds them up.

A large batch of new findings, or of updates, is counted by its writer instead
(`rollup_batches.inserted_once` and `updated_once`, `pg_batch_counts.py`): holding the fold
lock, it turns the triggers off for its write (`defer_counts`: a setting of the transaction
that their `WHEN` reads) and changes the rollup tables itself, as a fold would have.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import (
    Connection,
    FromClause,
    MetaData,
    Table,
    delete,
    exists,
    func,
    inspect,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.exc import DBAPIError

from dockwatch.storage.sql import rollup_sources
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.rollup_sources import count_columns, key_columns

logger = logging.getLogger(__name__)

FOLD_LOCK_KEY = 0x646F636B666F6C64  # "dockfold": the transaction-level advisory lock of a fold
DEFERRED_SETTING = "dockwatch.counts_deferred"
"""The setting of a transaction under which the triggers log nothing (`defer_counts`)."""
TRIGGERS = ("findings_count_insert", "findings_count_update", "findings_count_delete")
FUNCTION = "findings_count_log_row"
LOGGED = rollup_sources.COUNTED
"""The columns a log row copies from the finding row (after `sign`)."""

_FOLDING = Table(
    "finding_count_folding",
    MetaData(),
    *[c._copy() for c in t.finding_count_log.columns],
    schema="pg_temp",
)
"""The rows one fold moves, in a temporary table of the session (emptied at commit)."""

_NETTED = (
    t.finding_image_counts,
    t.finding_image_fix_counts,
    t.finding_image_score_counts,
    t.finding_image_first_counts,
)
"""The image rollups, whose log rows `current` nets per key: REPOSITORY counts the images whose
rows count above zero."""


def _values(row: str, sign: int) -> str:
    return f"({sign}, " + ", ".join(f"{row}.{c}" for c in LOGGED) + ")"


def trigger_ddl() -> list[str]:
    """The log-appending function and its three row triggers."""
    names = ", ".join(("sign", *LOGGED))
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in LOGGED)
    function = f"""
    CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO finding_count_log ({names}) VALUES {_values("NEW", 1)};
        ELSIF TG_OP = 'DELETE' THEN
            INSERT INTO finding_count_log ({names}) VALUES {_values("OLD", -1)};
        ELSE
            INSERT INTO finding_count_log ({names})
            VALUES {_values("OLD", -1)}, {_values("NEW", 1)};
        END IF;
        RETURN NULL;
    END $$"""
    # evaluated per row before the function is called: a deferred batch costs no call
    logging_on = f"current_setting('{DEFERRED_SETTING}', true) IS DISTINCT FROM 'on'"
    run = f"FOR EACH ROW WHEN ({logging_on}) EXECUTE FUNCTION {FUNCTION}()"
    return [
        function,
        f"CREATE TRIGGER {TRIGGERS[0]} AFTER INSERT ON findings {run}",
        f"CREATE TRIGGER {TRIGGERS[1]} AFTER UPDATE OF {', '.join(LOGGED)} ON findings "
        f"FOR EACH ROW WHEN (({changed}) AND {logging_on}) EXECUTE FUNCTION {FUNCTION}()",
        f"CREATE TRIGGER {TRIGGERS[2]} AFTER DELETE ON findings {run}",
    ]


def installed(conn: Connection) -> bool:
    """Whether the three triggers are on `findings`."""
    found = conn.execute(
        text(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass('findings') "
            "AND tgname = ANY(:names)"
        ),
        {"names": list(TRIGGERS)},
    ).scalar()
    return found == len(TRIGGERS)


def drop_triggers(conn: Connection) -> None:
    """Remove the triggers (the log keeps what it holds)."""
    for name in TRIGGERS:
        conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON findings"))


def install_triggers(conn: Connection) -> None:
    """(Re)create the function and the triggers, leaving the counts as they are."""
    t.finding_count_log.create(conn, checkfirst=True)
    drop_triggers(conn)
    for ddl in trigger_ddl():
        conn.exec_driver_sql(ddl)


def defers_counts(conn: Connection) -> bool:
    """Whether the triggers read `DEFERRED_SETTING` (installed by findings/17 or later)."""
    found = conn.execute(
        text(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass('findings') "
            "AND tgname = ANY(:names) AND pg_get_triggerdef(oid) LIKE :setting"
        ),
        {"names": list(TRIGGERS), "setting": f"%{DEFERRED_SETTING}%"},
    ).scalar()
    return found == len(TRIGGERS)


def defer_counts(conn: Connection, deferred: bool) -> None:
    """Turn the triggers' logging off (`deferred`) or on again for the rest of the transaction.
    Left on when the transaction (or the savepoint it was set in) rolls back, it goes with it:
    a setting made with `is_local` is undone with them."""
    conn.execute(
        text("SELECT set_config(:name, :value, true)"),
        {"name": DEFERRED_SETTING, "value": "on" if deferred else "off"},
    )


def try_hold(conn: Connection) -> bool:
    """Take the fold lock until the transaction ends, unless another transaction holds it:
    then False at once (this transaction may already hold it: True)."""
    return _take_lock(conn, wait=False)


def _take_lock(conn: Connection, wait: bool) -> bool:
    if wait:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": FOLD_LOCK_KEY})
        return True
    got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": FOLD_LOCK_KEY})
    return bool(got.scalar())


def fold(
    conn: Connection, *, wait: bool = False, only: Sequence[Table] | None = None
) -> int | None:
    """Move the log rows this transaction sees into the rollup tables; the number moved, or
    None when another transaction is folding (`wait`: wait for it instead). `only`: into those
    tables alone (a migration adding a rollup folds the log into the others first, while no
    writer adds to it; the new one is then filled from the findings)."""
    if not _take_lock(conn, wait):
        return None
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {_FOLDING.name} (LIKE {t.finding_count_log.name}) "
        "ON COMMIT DELETE ROWS"
    )
    moved = conn.exec_driver_sql(
        f"WITH moved AS (DELETE FROM {t.finding_count_log.name} RETURNING *) "
        f"INSERT INTO pg_temp.{_FOLDING.name} SELECT * FROM moved"
    ).rowcount
    if moved:
        # the rollup modules import this one on SQLite too, which never needs PostgreSQL's
        # dialect (20 ms of imports)
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        sources = [
            (table, source)
            for table, source in rollup_sources.sources("postgresql", _FOLDING)
            if only is None or table in only
        ]
        for table, source in sources:
            names = [c.name for c in source.selected_columns]
            stmt = pg_insert(table).from_select(names, source)
            stmt = stmt.on_conflict_do_update(
                index_elements=key_columns(table),
                set_={c: table.c[c] + stmt.excluded[c] for c in count_columns(table)},
            )
            conn.execute(stmt)
        counted_out = conn.exec_driver_sql(
            f"SELECT EXISTS (SELECT 1 FROM pg_temp.{_FOLDING.name} WHERE sign < 0)"
        ).scalar()
        for table, source in sources if counted_out else ():  # only removals empty a row
            key = key_columns(table)
            keys = source.subquery("k")
            conn.execute(
                delete(table).where(
                    tuple_(*[table.c[k] for k in key]).in_(select(*[keys.c[k] for k in key])),
                    *[table.c[s] <= 0 for s in t.ROLLUP_SEVERITIES],
                )
            )
        conn.exec_driver_sql(f"DELETE FROM pg_temp.{_FOLDING.name}")
    return moved


def existing(conn: Connection) -> list[Table]:
    """The rollup tables this database has: during migrations, those a later migration adds
    do not exist yet (it fills them from the findings), and a fold leaves them out."""
    have = set(inspect(conn).get_table_names())
    return [table for table, _source in rollup_sources.sources("postgresql") if table.name in have]


@contextmanager
def folded(conn: Connection) -> Iterator[None]:
    """Fold the log after the block (a writer's batch), if no other transaction is folding."""
    yield
    fold(conn)


def pending(conn: Connection) -> bool:
    """Whether this statement's snapshot sees log rows not folded yet."""
    return bool(conn.execute(select(exists().select_from(t.finding_count_log))).scalar())


def settle(conn: Connection) -> bool:
    """Before a read: fold what the log holds if no other transaction is folding (in a
    savepoint, so a refusal to write leaves the read as it was); whether log rows remain, which
    the read must then add (`current`)."""
    if not pending(conn):
        return False
    try:
        with conn.begin_nested():
            fold(conn)
    except DBAPIError as exc:  # a read-only transaction: the read adds the log up instead
        logger.debug("rollup fold skipped: %s", exc)
    return pending(conn)


def current(table: Table, with_log: bool) -> FromClause:
    """The rollup `table` as of the statement's snapshot: its rows, plus (`with_log`) the log
    rows not folded yet, grouped as the table (same columns; the image rollups' netted per key,
    `_NETTED`)."""
    if not with_log:
        return table
    log = dict(rollup_sources.sources("postgresql", t.finding_count_log))[table]
    src = log.subquery("log")
    names = [c.name for c in table.columns]
    both = union_all(select(*table.c), select(*[src.c[n] for n in names])).subquery(table.name)
    if table not in _NETTED:
        return both
    key = key_columns(table)
    counts = count_columns(table)
    return (
        select(
            *[
                func.sum(both.c[n]).label(n) if n in counts else func.max(both.c[n]).label(n)
                for n in names
                if n not in key
            ],
            *[both.c[k] for k in key],
        )
        .group_by(*[both.c[k] for k in key])
        .subquery(table.name)
    )
