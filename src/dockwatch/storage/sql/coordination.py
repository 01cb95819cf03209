"""Cross-process coordination on the database: singleton passes and waking idle workers.

`singleton(name)`: on PostgreSQL a session advisory lock (`pg_try_advisory_lock`) held by one
pooled connection for the block, so one process in the cluster runs a periodic pass (expiry,
purges) at a time and the others skip it; the lock dies with its connection, so a killed process
never leaves it held. On SQLite one process serves the data folder, and an in-process lock is
enough (the file's write lock serializes writers anyway).

`WorkWaiter`: on PostgreSQL a dedicated connection `LISTEN`s on `dockwatch_jobs`, which job
enqueues and outbox appends `NOTIFY` (delivered at commit), so an idle worker wakes at once
instead of at its next poll; the poll stays as the fallback. `LocalWorkWaiter` does the same on
SQLite within one process: the enqueue or append marks its transaction, and the store wakes
the process's waiters once that transaction has committed, so the embedded worker starts a
pushed image's scan at once instead of at its next poll (0.2 s; half of the 0.5 s target of
push-to-findings). Work queued by another process (`dockwatch db import` beside the server) is
still seen at the next poll.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, text

from dockwatch.storage.sql.job_queue import JOBS_CHANNEL

logger = logging.getLogger(__name__)

_local_locks: dict[tuple[str, str], threading.Lock] = {}
_local_guard = threading.Lock()
_local_waiters: dict[str, set[LocalWorkWaiter]] = {}


def lock_key(name: str) -> int:
    """The 64-bit advisory lock key of a singleton name (stable across processes)."""
    return int.from_bytes(
        hashlib.sha256(f"dockwatch:{name}".encode()).digest()[:8], "big", signed=True
    )


@contextlib.contextmanager
def singleton(engine: Engine, name: str) -> Iterator[bool]:
    """Yields True when this process holds the named singleton for the block, else False."""
    if engine.dialect.name != "postgresql":
        with _local_guard:
            lock = _local_locks.setdefault((str(engine.url), name), threading.Lock())
        held = lock.acquire(blocking=False)
        try:
            yield held
        finally:
            if held:
                lock.release()
        return
    key = lock_key(name)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        try:
            yield held
        finally:
            if held:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


class LocalWorkWaiter:
    """Blocks an idle worker until this process commits new work or a timeout passes (SQLite)."""

    def __init__(self, key: str) -> None:
        self._key = key
        self._event = threading.Event()
        with _local_guard:
            _local_waiters.setdefault(key, set()).add(self)

    def notify(self) -> None:
        """Wake the waiter (or make its next wait return at once)."""
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """True when work was committed since the last wait, False after `timeout` seconds."""
        woken = self._event.wait(timeout)
        # cleared after the wake: work committed from here on sets it again, and work committed
        # before is read by the round the caller runs now
        self._event.clear()
        return woken

    def close(self) -> None:
        """Stop being woken."""
        with _local_guard:
            _local_waiters.get(self._key, set()).discard(self)


def wake_local_waiters(key: str) -> None:
    """Wake every `LocalWorkWaiter` of the database `key` in this process."""
    with _local_guard:
        waiters = list(_local_waiters.get(key, ()))
    for waiter in waiters:
        waiter.notify()


class WorkWaiter:
    """Blocks an idle worker until new work is announced or a timeout passes (PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._url = engine.url
        self._conn: Any = None

    def _connect(self) -> Any:
        import psycopg

        url = self._url
        conn = psycopg.connect(
            host=url.host or "", port=url.port or 5432, user=url.username or "",
            password=url.password or "", dbname=url.database or "", autocommit=True,
        )  # fmt: skip
        conn.execute(f"LISTEN {JOBS_CHANNEL}".encode())
        return conn

    def wait(self, timeout: float) -> bool:
        """True when woken by a notification, False after `timeout` seconds."""
        try:
            if self._conn is None:
                self._conn = self._connect()
            return bool(list(self._conn.notifies(timeout=timeout, stop_after=1)))
        except Exception:  # the database went away: poll until it is back
            logger.warning("job notifications unavailable; polling", exc_info=True)
            self.close()
            threading.Event().wait(timeout)
            return False

    def close(self) -> None:
        """Close the listening connection."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
