"""A new SQLite file gets the engine's page size; a file created before keeps its own and stays
intact. Page size and journal mode are read from the file header (bytes 16-19 of the SQLite
file format), not through the engine."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dockwatch.storage.sql.engine import PAGE_SIZE, Database

WAL = 2  # file format write/read version 2 = WAL


def _header(path: Path) -> tuple[int, int]:
    """(page size, write version) as the file's first 100 bytes state them."""
    head = path.read_bytes()[:100]
    assert head.startswith(b"SQLite format 3\x00")
    size = int.from_bytes(head[16:18], "big")
    return (65536 if size == 1 else size), head[18]


def _rows(path: Path) -> list[tuple[int, str]]:
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return con.execute("SELECT id, doc FROM t ORDER BY id").fetchall()
    finally:
        con.close()


def _use(path: Path, new_rows: list[tuple[int, str]]) -> None:
    db = Database(f"sqlite:///{path}")
    try:
        with db.write() as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, doc TEXT)")
            for row in new_rows:
                conn.exec_driver_sql("INSERT INTO t VALUES (?, ?)", row)
        with db.read() as conn:
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM t").scalar_one() >= len(new_rows)
    finally:
        db.close()


def test_the_page_size_is_a_power_of_two_sqlite_accepts() -> None:
    assert 512 <= PAGE_SIZE <= 65536
    assert PAGE_SIZE & (PAGE_SIZE - 1) == 0


def test_a_new_database_gets_the_page_size_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    rows = [(i, "x" * 1500) for i in range(200)]
    _use(path, rows)
    assert _header(path) == (PAGE_SIZE, WAL)
    assert _rows(path) == rows


@pytest.mark.parametrize("journal", ["WAL", "DELETE"])
def test_an_existing_database_keeps_its_page_size(tmp_path: Path, journal: str) -> None:
    other = 4096 if PAGE_SIZE != 4096 else 8192
    path = tmp_path / "old.db"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute(f"PRAGMA page_size = {other}")
    con.execute(f"PRAGMA journal_mode = {journal}")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, doc TEXT)")
    old = [(i, f"{i}" * 700) for i in range(300)]  # a few overflow pages too
    con.executemany("INSERT INTO t VALUES (?, ?)", old)
    con.close()
    assert _header(path)[0] == other

    added = [(1000 + i, "y" * 3000) for i in range(50)]
    _use(path, added)
    _use(path, [])  # opened again: nothing changes the page size on a later connect

    assert _header(path) == (other, WAL)
    assert _rows(path) == old + added
