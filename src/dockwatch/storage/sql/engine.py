"""The database handle: one writer at a time on SQLite, a pool on PostgreSQL.

SQLite runs in WAL mode so readers never wait for the writer. Writes take a process-wide lock
and `BEGIN IMMEDIATE` (the file lock up front, so two processes never deadlock upgrading a read
lock), with a busy timeout for the other processes sharing the data folder (a CLI `gc` or
`db import` beside the server). No ORM rows leave `storage/`.

A new SQLite file gets 8 KB pages (`PAGE_SIZE`): finding details were JSON documents of 1-2 KB
(compressed to about 0.5 KB since findings/8), and a 4 KB page held two of them where an 8 KB
page holds about five. An existing file keeps the page size it was created with (WAL mode fixes
it; `VACUUM` offline changes it).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import OperationalError

from dockwatch.errors import BackendUnavailable

from .checkpoints import AUTOCHECKPOINT_PAGES, Checkpointer

BUSY_TIMEOUT_MS = 30_000
PAGE_SIZE = 8192
"""Bytes a page of a new SQLite file. At 1,000,000 findings (bench/findings.py, fresh builds)
8 KB takes 1,135.6 bytes a stored finding against 1,209.1 at 4 KB (the details 300.4 -> 240.6),
with the same query and write CPU; 16 KB packs the details no tighter (1,061.3 against 1,062.4
repacked with `VACUUM INTO`)."""


class Database:
    """An engine plus the discipline for using it: `read()` and `write()` units of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            kwargs.update(pool_size=8, max_overflow=56, connect_args={"check_same_thread": False})
        self.engine: Engine = create_engine(url, **kwargs)
        self._write_lock: contextlib.AbstractContextManager[Any]
        if self.is_sqlite:
            _configure_sqlite(self.engine)
            self._write_lock = threading.Lock()
        else:
            self._write_lock = contextlib.nullcontext()
        self._checkpointer: Checkpointer | None = None
        self._bulk_writers = 0
        self._bulk_lock = threading.Lock()

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A read-write transaction, committed when the block exits without error."""
        with self._write_lock, self.engine.connect() as conn:
            conn.info["immediate"] = True
            checkpointer = self._checkpointer
            if checkpointer is not None:  # the commit leaves the log to it
                _autocheckpoint(conn, 0)
            try:
                with conn.begin():
                    yield conn
            except OperationalError as exc:
                raise _translate(exc) from exc
            finally:
                if checkpointer is not None:  # a broken connection is dropped by the pool
                    with contextlib.suppress(sqlite3.Error):
                        _autocheckpoint(conn, AUTOCHECKPOINT_PAGES)
            if checkpointer is not None:
                checkpointer.committed()

    @contextlib.contextmanager
    def bulk_writes(self) -> Iterator[None]:
        """A run of large write transactions (an import): on SQLite their pages are copied
        from the log into the database file by a thread beside them (`checkpoints`), and
        the block ends once they are. Nothing changes on PostgreSQL."""
        if not self.is_sqlite:
            yield
            return
        with self._bulk_lock:
            if self._bulk_writers == 0:
                self._checkpointer = Checkpointer(self.engine)
            self._bulk_writers += 1
        try:
            yield
        finally:
            with self._bulk_lock:
                self._bulk_writers -= 1
                done = self._checkpointer if self._bulk_writers == 0 else None
                if done is not None:
                    self._checkpointer = None
            if done is not None:
                done.close()

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot."""
        with self.engine.connect() as conn:
            conn.info["immediate"] = False
            try:
                with conn.begin():
                    yield conn
            except OperationalError as exc:
                raise _translate(exc) from exc

    def optimize(self) -> None:
        """Refresh the query planner's statistics (SQLite's `PRAGMA optimize`, which runs
        ANALYZE only where it is worth it); without them SQLite may pick an index where a
        scan is ten times faster."""
        if self.is_sqlite:
            with self.write() as conn:
                conn.exec_driver_sql("PRAGMA optimize")

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()


def _translate(exc: OperationalError) -> Exception:
    text = str(exc.orig)
    if "disk" in text or "full" in text or "locked" in text:
        return BackendUnavailable(f"database unavailable: {text}")
    return exc


def _autocheckpoint(conn: Connection, pages: int) -> None:
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    driver.execute(f"PRAGMA wal_autocheckpoint = {pages}")


def _enter_wal(cur: sqlite3.Cursor) -> None:
    """Switch the file to WAL, waiting as long as the busy timeout for other connections.

    SQLite does not call the busy handler for this pragma while another connection holds the
    write lock of a file still in rollback mode (processes starting at once on a new file):
    it fails at once with "database is locked". So it is retried here, with a growing pause,
    until it passes or the timeout is spent."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.001
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL").fetchall()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # only an empty file takes a page size, and only before WAL mode is on
        if cur.execute("PRAGMA page_count").fetchone()[0] == 0:
            cur.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        _enter_wal(cur)
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        # the rollup triggers need a statement journal: in memory it costs half as much
        cur.execute("PRAGMA temp_store = MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("immediate") else "BEGIN")
