"""Opening a file that another process is writing in rollback mode: SQLite refuses the switch
to WAL at once ("database is locked", without calling the busy handler), so processes starting
together on a new database failed at random. The engine now waits for the writer, as it does
for any other lock."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from dockwatch.storage.sql.engine import Database


def test_opening_waits_for_a_writer_in_rollback_mode(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    writer.execute("BEGIN IMMEDIATE")  # the write lock of a file still in rollback mode
    writer.execute("INSERT INTO t VALUES (1)")
    # the engine's first connection blocks until this commit: its data is then read
    release = threading.Timer(0.3, writer.execute, args=("COMMIT",))
    release.start()
    db = Database(f"sqlite:///{path}")
    try:
        with db.read() as conn:
            assert conn.exec_driver_sql("SELECT id FROM t").scalars().all() == [1]
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    finally:
        release.join()
        db.close()
        writer.close()
