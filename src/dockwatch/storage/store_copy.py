"""Copying a single-node install (a data folder) to another database and blob store, verified.

Metadata: the target is migrated with the same migrations as the source, then every table is
copied through SQLAlchemy reflection, in foreign-key order, in batches, in one transaction per
table. Triggers of the target (the findings rollups) are held off while rows go in, since the
copied rollup tables already hold their values: SQLite's triggers are dropped and recreated,
PostgreSQL's are skipped with `session_replication_role = replica`. The code names no table, so
a table added by a later migration is copied too.

Blobs: every blob of the source goes through the target's upload path (`writer` + `commit`),
so the target verifies each digest as it is written; blobs already present are skipped, which
makes an interrupted copy resumable.

Verification, after the copy: row counts per table on both sides, and every blob read back from
the target and hashed.

Running the copy again is safe: a target database that already holds exactly the source's rows
(every table's rows, compared as an order-free digest of their values) is a finished copy, so
only the missing blobs are copied and both sides verified again. A target holding anything else
(another install, or this copy after it has taken writes) is refused: the copy never merges.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Integer, MetaData, Table, func, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from dockwatch.errors import InvalidInput
from dockwatch.model.digest import Digest, algorithm_of
from dockwatch.storage.blobs import open_blob_store
from dockwatch.storage.blobs.blobstore import BlobStore
from dockwatch.storage.blobs.filesystem import FilesystemBlobStore
from dockwatch.storage.sql import tables
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.value_class import frozen

logger = logging.getLogger(__name__)

BATCH = 1000
CHUNK = 1 << 20
MIGRATIONS_TABLE = "schema_migrations"


@frozen
class TableCount:
    """Rows of one table on each side."""

    table: str
    source: int
    target: int


@frozen
class BlobCheck:
    """One blob re-read from the target."""

    digest: Digest
    ok: bool
    detail: str = ""


@frozen
class CopyReport:
    """What was copied and what the verification found."""

    tables: list[TableCount] = field(default_factory=list)
    blobs_copied: int = 0
    blobs_present: int = 0
    blob_checks: list[BlobCheck] = field(default_factory=list)
    already_copied: bool = False
    """The target database held this copy already (a re-run): no row was written."""

    @property
    def verified(self) -> bool:
        """Every table has as many rows on both sides and every blob hashes to its digest."""
        return all(t.source == t.target for t in self.tables) and all(
            b.ok for b in self.blob_checks
        )


def _tables(db: Database) -> list[Table]:
    meta = MetaData()
    meta.reflect(bind=db.engine)
    found = [t for t in meta.sorted_tables if t.name != MIGRATIONS_TABLE]
    for table in found:
        _declared_types(table, db.engine.dialect)
    return found


def _declared_types(table: Table, dialect: Dialect) -> None:
    """Give reflected columns whose declared type converts values in Python on this dialect
    (SQLite's integer finding times, `schema/epoch_micros.py`) that type: reflection sees
    only the storage type (BIGINT), and the other side wants the values (datetimes)."""
    declared = tables.metadata.tables.get(table.name)
    if declared is None:
        return
    for column in table.columns:
        if column.name not in declared.c:
            continue
        kind = declared.c[column.name].type
        if isinstance(kind.dialect_impl(dialect), TypeDecorator):
            column.type = kind


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _stored_columns(table: Table) -> list[str]:
    """Columns that hold values (generated columns are computed by the database)."""
    return [c.name for c in table.columns if c.computed is None]


def _rows(conn: Connection, table: Table, columns: list[str]) -> Iterator[list[dict[str, object]]]:
    query = select(*(table.c[name] for name in columns))
    result = conn.execution_options(stream_results=True).execute(query)
    while batch := result.fetchmany(BATCH):
        yield [dict(r._mapping) for r in batch]


def _normal(value: object) -> object:
    """A column value as both dialects give it back (SQLite returns naive UTC datetimes,
    PostgreSQL aware ones; binary columns may come back as memoryview)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _digest(conn: Connection, table: Table, columns: list[str]) -> tuple[int, int]:
    """(rows, order-free digest of their values) of `table`: the sum of each row's SHA-256,
    so two databases that sort rows differently agree when they hold the same rows."""
    rows = total = 0
    for batch in _rows(conn, table, columns):
        for row in batch:
            values = repr([_normal(row[c]) for c in columns]).encode()
            total = (total + int.from_bytes(hashlib.sha256(values).digest())) % (1 << 256)
            rows += 1
    return rows, total


def holds_copy_of(source: Database, target: Database) -> bool:
    """False when the target database is empty, True when it holds exactly the source's rows
    (a finished earlier copy); raises InvalidInput when it holds anything else."""
    target_tables = {t.name: t for t in _tables(target)}
    with target.engine.connect() as dst:
        filled = next((t.name for t in target_tables.values() if _count(dst, t)), None)
    if filled is None:
        return False
    migrate(source)
    with source.engine.connect() as src, target.engine.connect() as dst:
        for table in _tables(source):
            into = target_tables.get(table.name)
            columns = [] if into is None else [c for c in _stored_columns(into) if c in table.c]
            if into is None or _digest(src, table, columns) != _digest(dst, into, columns):
                raise InvalidInput(
                    f"the target database is not empty (table {filled}) and does not hold a "
                    f"copy of this data folder (table {table.name} differs): copy into a new one"
                )
    return True


def copy_tables(
    source: Database, target: Database, progress: Callable[[str], None] | None = None
) -> None:
    """Migrate `target`, then copy every table of `source` into it."""
    migrate(source)  # the source at the current schema, so both sides have the same tables
    migrate(target)
    source_tables = _tables(source)
    target_tables = {t.name: t for t in _tables(target)}
    missing = [t.name for t in source_tables if t.name not in target_tables]
    if missing:
        raise InvalidInput(f"the target lacks tables after migrating: {', '.join(missing)}")
    with source.engine.connect() as src, target.engine.begin() as dst:
        if dst.dialect.name == "postgresql":
            # the copy is durable when it is reported done, whatever the server's default
            # (and VACUUM below sets a page all-visible only once its rows' commit is flushed)
            dst.exec_driver_sql("SET LOCAL synchronous_commit = on")
        restore = _hold_triggers(dst)
        for table in reversed(source_tables):  # rows seeded by migrations go first
            dst.execute(target_tables[table.name].delete())
        for table in source_tables:
            into = target_tables[table.name]
            columns = [c for c in _stored_columns(into) if c in table.c]
            copied = 0
            for batch in _rows(src, table, columns):
                dst.execute(into.insert(), batch)
                copied += len(batch)
            if progress is not None:
                progress(f"{table.name}: {copied} rows")
        restore()
        advance_sequences(dst, list(target_tables.values()))
    if target.engine.dialect.name == "postgresql":
        # the planner's statistics now, not once autovacuum reaches the new rows: without them
        # it takes every table for a row or two (an image-grain aggregation filtered by vendor
        # severity nested its loops: 7 s instead of 22 ms at 100,000 findings); and the pages
        # marked all-visible, without which an index-only scan still reads the table for each
        # entry (that aggregation at 1,000,000 findings: 210 ms p50 over HTTP until autovacuum
        # had been, 82 after; every page of `findings` all-visible when the copy returns).
        # VACUUM runs outside a transaction.
        with target.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")


def advance_sequences(conn: Connection, tables: list[Table]) -> None:
    """Move every PostgreSQL sequence behind an integer key past the largest key copied: rows
    went in with their ids, so the sequences still stand at 1 and the new install's first
    insert would collide. (SQLite takes the next rowid from the table itself.)"""
    if conn.dialect.name != "postgresql":
        return
    quote = conn.dialect.identifier_preparer.quote
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer):
                continue
            seq = conn.execute(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": quote(table.name), "column": column.name},
            ).scalar()
            if seq is None:
                continue
            top = conn.execute(select(func.max(column))).scalar()
            conn.execute(
                text("SELECT setval(CAST(:seq AS regclass), :value, :called)"),
                {"seq": seq, "value": int(top or 1), "called": top is not None},
            )


def _hold_triggers(conn: Connection) -> Callable[[], None]:
    """Turn the target's triggers off for this transaction; returns what turns them back on."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        return lambda: None
    if dialect == "sqlite":
        rows = conn.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql IS NOT NULL")
        ).all()
        for name, _ in rows:
            conn.execute(text(f'DROP TRIGGER "{name}"'))

        def recreate() -> None:
            for _, sql in rows:
                conn.execute(text(sql))

        return recreate
    return lambda: None


def count_tables(source: Database, target: Database) -> list[TableCount]:
    """Rows per table on both sides."""
    out = []
    target_tables = {t.name: t for t in _tables(target)}
    with source.engine.connect() as src, target.engine.connect() as dst:
        for table in _tables(source):
            into = target_tables.get(table.name)
            out.append(
                TableCount(
                    table.name, _count(src, table), -1 if into is None else _count(dst, into)
                )
            )
    return out


def copy_blobs(
    source: BlobStore, target: BlobStore, progress: Callable[[str], None] | None = None
) -> tuple[int, int]:
    """Copy every blob missing from `target`; returns (copied, already present)."""
    copied = present = 0
    for digest in sorted(source.digests()):
        have = source.stat(digest)
        there = target.stat(digest)
        if have is not None and there is not None and there.size == have.size:
            present += 1
            continue
        upload_id = f"migrate-{digest.partition(':')[2][:40]}"
        writer = target.writer(upload_id, create=True)
        try:
            with source.open(digest) as f:
                while chunk := f.read(CHUNK):
                    writer.write(chunk)
            writer.commit(digest)
        except BaseException:
            writer.cancel()
            raise
        finally:
            writer.close()
        copied += 1
        if progress is not None:
            progress(f"blob {digest}")
    return copied, present


def verify_blobs(source: BlobStore, target: BlobStore) -> list[BlobCheck]:
    """Every blob of `source` read back from `target` and hashed."""
    checks = []
    for digest in sorted(source.digests()):
        if target.stat(digest) is None:
            checks.append(BlobCheck(digest, False, "missing"))
            continue
        hasher = hashlib.new(algorithm_of(digest))
        with target.open(digest) as f:
            while chunk := f.read(CHUNK):
                hasher.update(chunk)
        actual = f"{algorithm_of(digest)}:{hasher.hexdigest()}"
        checks.append(BlobCheck(digest, actual == digest, "" if actual == digest else actual))
    return checks


def copy_store(
    source_db: Database,
    source_blobs: BlobStore,
    target_db: Database,
    target_blobs: BlobStore,
    progress: Callable[[str], None] | None = None,
) -> CopyReport:
    """Copy metadata and blobs, then verify both; the report says what was found. A target
    that already holds this copy gets only its missing blobs; any other data is refused."""
    already = holds_copy_of(source_db, target_db)
    copied, present = copy_blobs(source_blobs, target_blobs, progress)
    if not already:
        copy_tables(source_db, target_db, progress)
    else:  # a copy made before sequences were advanced gets them now
        with target_db.engine.begin() as conn:
            advance_sequences(conn, _tables(target_db))
    return CopyReport(
        tables=count_tables(source_db, target_db),
        blobs_copied=copied,
        blobs_present=present,
        blob_checks=verify_blobs(source_blobs, target_blobs),
        already_copied=already,
    )


def copy_install(
    data_dir: Path,
    to_database: str,
    to_blobs: str,
    addressing_style: str = "auto",
    progress: Callable[[str], None] | None = None,
) -> CopyReport:
    """`copy_store` from a data folder (SQLite + files) to a database URL and a blob URL."""
    source_db = Database(f"sqlite:///{data_dir / 'dockwatch.db'}")
    target_db = Database(to_database)
    try:
        return copy_store(
            source_db,
            FilesystemBlobStore(data_dir),
            target_db,
            open_blob_store(to_blobs, data_dir, addressing_style),
            progress,
        )
    finally:
        source_db.close()
        target_db.close()
