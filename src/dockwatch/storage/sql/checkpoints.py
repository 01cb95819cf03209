"""SQLite's write-ahead log copied into the database file beside a bulk writer.

In WAL mode a commit that leaves the log over 1,000 pages copies the log into the database
file and syncs it before it returns (SQLite's automatic checkpoint). An import writes tens of
megabytes in a few large transactions while its parsing processes work beside it, and each of
its commits waited for that copy: the writer is the import's critical path. While a bulk
writer runs (`Database.bulk_writes`), commits leave the log alone and a thread of this process
checkpoints after each of them on its own connection, while the writer goes on with the next
transaction. The block ends when the last checkpoint has, so the log is copied as before.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from sqlalchemy import Engine

logger = logging.getLogger(__name__)

AUTOCHECKPOINT_PAGES = 1000
"""SQLite's default automatic checkpoint threshold, restored on the writer's connection."""


class Checkpointer:
    """Runs a passive checkpoint after each commit it is told of, in its own thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._wanted = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None

    def committed(self) -> None:
        """A transaction was committed: its pages are copied soon, not by the committer.
        The thread starts at the first commit (a process that forks workers before it keeps
        forking: see `vulndb.workers.run_chunks`)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
            self._thread.start()
        self._wanted.set()

    def close(self) -> None:
        """Wait for the checkpoint of the last commit told of, then stop the thread."""
        if self._thread is None:
            return
        self._closing = True
        self._wanted.set()
        self._thread.join()

    def _run(self) -> None:
        conn = self._engine.raw_connection()
        try:
            while True:
                self._wanted.wait()
                self._wanted.clear()
                closing = self._closing  # read before the checkpoint: a commit told of
                driver = conn.driver_connection  # after it is copied by the next round
                assert isinstance(driver, sqlite3.Connection)
                # passive: copies what no reader still needs, never waits for anyone
                driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                if closing:
                    return
        except sqlite3.Error as exc:  # the log keeps every page: the next commits copy it
            logger.warning("WAL checkpoint beside the writer failed: %s", exc)
        finally:
            conn.close()
