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
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, MetaData, Table, func, select, text

from dockwatch.errors import InvalidInput
from dockwatch.model.digest import Digest, algorithm_of
from dockwatch.storage.blobs import open_blob_store
from dockwatch.storage.blobs.blobstore import BlobStore
from dockwatch.storage.blobs.filesystem import FilesystemBlobStore
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate

logger = logging.getLogger(__name__)

BATCH = 1000
CHUNK = 1 << 20
MIGRATIONS_TABLE = "schema_migrations"


@dataclass(frozen=True, slots=True)
class TableCount:
    """Rows of one table on each side."""

    table: str
    source: int
    target: int


@dataclass(frozen=True, slots=True)
class BlobCheck:
    """One blob re-read from the target."""

    digest: Digest
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What was copied and what the verification found."""

    tables: list[TableCount] = field(default_factory=list)
    blobs_copied: int = 0
    blobs_present: int = 0
    blob_checks: list[BlobCheck] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        """Every table has as many rows on both sides and every blob hashes to its digest."""
        return all(t.source == t.target for t in self.tables) and all(
            b.ok for b in self.blob_checks
        )


def _tables(db: Database) -> list[Table]:
    meta = MetaData()
    meta.reflect(bind=db.engine)
    return [t for t in meta.sorted_tables if t.name != MIGRATIONS_TABLE]


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


def check_target_empty(target: Database) -> None:
    """Refuse a target database that already holds data (the copy never merges)."""
    with target.engine.connect() as conn:
        for table in _tables(target):
            if _count(conn, table):
                raise InvalidInput(
                    f"the target database is not empty (table {table.name}): copy into a new one"
                )


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
    """Copy metadata and blobs, then verify both; the report says what was found."""
    check_target_empty(target_db)
    copied, present = copy_blobs(source_blobs, target_blobs, progress)
    copy_tables(source_db, target_db, progress)
    return CopyReport(
        tables=count_tables(source_db, target_db),
        blobs_copied=copied,
        blobs_present=present,
        blob_checks=verify_blobs(source_blobs, target_blobs),
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
