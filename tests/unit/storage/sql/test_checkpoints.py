"""Bulk writes on SQLite: their commits leave the write-ahead log to a thread, which has copied
it into the database file by the block's end. What the file holds is read from a copy of the
database file alone (no log beside it), which shows what a checkpoint has written there."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from dockwatch.storage.sql.engine import Database


def _database(path: Path) -> Database:
    db = Database(f"sqlite:///{path}")
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, doc TEXT)")
    db.engine.dispose()  # closing the last connection checkpoints: the table is in the file
    return db


def _insert(db: Database, ids: range) -> None:
    with db.write() as conn:
        conn.exec_driver_sql(
            "INSERT INTO t VALUES (?, ?)", [(n, f"document {n}" * 20) for n in ids]
        )


def _in_file_alone(path: Path, folder: Path) -> list[int]:
    """The ids the database file holds without its log: a copy of the file alone opened."""
    copy = folder / f"alone-{len(list(folder.iterdir()))}.db"
    shutil.copyfile(path, copy)
    con = sqlite3.connect(copy)
    try:
        return [n for (n,) in con.execute("SELECT id FROM t ORDER BY id")]
    finally:
        con.close()


def _autocheckpoint(db: Database) -> int:
    with db.write() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def _checkpoint_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "wal-checkpoint"]


def test_without_bulk_writes_a_small_commit_stays_in_the_log(tmp_path: Path) -> None:
    """The baseline the next test departs from: under SQLite's 1,000-page threshold a commit
    leaves its pages in the log, and the file alone does not have them."""
    path = tmp_path / "d.db"
    db = _database(path)
    _insert(db, range(10))
    assert _in_file_alone(path, tmp_path) == []
    db.close()


def test_bulk_writes_are_in_the_database_file_when_the_block_ends(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    db = _database(path)
    with db.bulk_writes():
        assert _autocheckpoint(db) == 0  # the commits leave the log to the thread
        for start in range(0, 3000, 1000):  # some transactions over the threshold
            _insert(db, range(start, start + 1000))
        _insert(db, range(3000, 3010))
    assert _in_file_alone(path, tmp_path) == list(range(3010))
    assert _checkpoint_threads() == []
    assert _autocheckpoint(db) == 1000  # SQLite's own again
    db.close()


def test_a_failed_transaction_in_a_bulk_block_leaves_the_rest_intact(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    db = _database(path)
    with db.bulk_writes():
        _insert(db, range(5))
        with pytest.raises(IntegrityError), db.write() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (99, 'x')")
            conn.exec_driver_sql("INSERT INTO t VALUES (1, 'again')")  # the key exists
        _insert(db, range(5, 8))
    assert _in_file_alone(path, tmp_path) == list(range(8))
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM t").scalar_one() == 8
    db.close()


def test_nested_and_concurrent_bulk_blocks_share_one_thread(tmp_path: Path) -> None:
    """Two importers of one process (a sync in the server and another block inside it): the
    log is left to one thread until the last block ends."""
    path = tmp_path / "d.db"
    db = _database(path)
    with db.bulk_writes():
        _insert(db, range(3))
        with db.bulk_writes():
            _insert(db, range(3, 6))
        assert len(_checkpoint_threads()) == 1
        assert _autocheckpoint(db) == 0
        _insert(db, range(6, 9))
    assert _checkpoint_threads() == []
    assert _in_file_alone(path, tmp_path) == list(range(9))
    db.close()


def test_a_block_without_writes_starts_no_thread(tmp_path: Path) -> None:
    db = _database(tmp_path / "d.db")
    with db.bulk_writes():
        assert _checkpoint_threads() == []
    db.close()
