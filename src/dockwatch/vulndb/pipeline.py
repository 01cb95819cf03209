"""Writing the sources of a folder import while its last files are still being parsed.

An import groups records by source and writes each source in its own transaction, in sorted
order, once every file is parsed: only then is it known that no later file adds to a source.
Parsing runs in other processes, so the writer's core sat idle while they parsed and the
parsing processes sat idle while it wrote. Most trees keep a source's files together (one folder
per producer), so here a source that no file has added to for a while (`QUIET_FILES`) is
written at once, in sorted order, inside ONE write transaction held open until parsing ends.
When parsing ends with every written source still as it was written, that transaction commits
and the remaining sources are written one transaction each, exactly as before. If a later file
adds to a written source, or gives a source that sorts before one already written, or a write
fails, the open transaction is rolled back whole and every source is written after parsing as
before: the database ends up the same either way, and no source is ever left half written.

The write lock is held from the first early write to the end of parsing, so early writes
start only once at most `HELD_FILES` files remain to parse (a few seconds), and other writers
of the database wait no longer than they would for the writes themselves. Early writes pay only
where a core is free for the writer: the importer asks `spare_core` first.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType

from dockwatch.storage.unit_of_work import UnitOfWork
from dockwatch.storage.vuln_repo import EncodedAdvisory

from .service import ImportResult, VulnDb, log_result

logger = logging.getLogger(__name__)

QUIET_FILES = 256
"""Files parsed since a source's last record before it is written early."""
HELD_FILES = 50_000
"""Early writes start once at most this many files remain to parse."""
_CHECK_EVERY = 32
"""Files between two looks for a source to write early."""


def spare_core() -> bool:
    """Whether the machine has a core for the writer beside the parsing processes: the
    one-minute load average under the number of cores. Writing early while every core is taken
    only shares them three ways and costs 0.1 CPU-s more (caches shared with the parsing
    processes): on two cores the shared snapshot's JSON sources imported in 2.41 to 2.50 s at
    load 2.0 to 2.4 (2.43 to 2.63 s written after parsing), at load 3 in 3.42 and 4.58 s
    (3.01 and 4.34 s before these changes), at load 4 to 5 at 4,578 and 5,199 records/s against
    7,169 written after parsing."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # not known here: assume a core is free
        return True
    return load < (os.cpu_count() or 1)


class _Abandon(Exception):
    """Rolls the early writes back (thrown into the open write, never raised to a caller)."""


class SourceWriter:
    """Collects the records of an import in file order and writes them per source.

    `add` every record, `file_done` after each file with the number of files left to parse,
    then `finish` for the results (in source order, as `VulnDb.apply_rows` one source at a
    time gives them). Used as a context manager, an exception before `finish` rolls back
    what was written early."""

    def __init__(
        self,
        vdb: VulnDb,
        *,
        early: bool = True,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self._vdb = vdb
        self._early = early
        self._say = progress or (lambda _m: None)
        self.grouped: dict[str, list[EncodedAdvisory]] = {}
        self._last_file: dict[str, int] = {}
        self._files = 0
        self._write: AbstractContextManager[UnitOfWork] | None = None
        self._uow: UnitOfWork | None = None
        self._written: list[ImportResult] = []
        self.rolled_back = 0
        """How many times early writes were abandoned (for tests and the log)."""
        self.committed_early: list[str] = []
        """The sources whose early writes committed."""

    def __enter__(self) -> SourceWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self._abandon(count=False)

    def add(self, source: str, row: EncodedAdvisory) -> None:
        """One record of `source`, in file order."""
        if self._written and source <= self._written[-1].source:
            # a written source grows, or a new one sorts before one written: not in order
            self._abandon()
        rows = self.grouped.get(source)
        if rows is None:
            rows = self.grouped[source] = []
        rows.append(row)
        self._last_file[source] = self._files + 1  # the file being parsed, counted from 1

    def file_done(self, files_left: int) -> None:
        """One more file parsed; writes the sources gone quiet when few files are left."""
        self._files += 1
        if not self._early or files_left > HELD_FILES or self._files % _CHECK_EVERY:
            return
        done = {r.source for r in self._written}
        for source in sorted(self.grouped):
            if source in done:
                continue
            if self._files - self._last_file[source] < QUIET_FILES:
                return  # the next source in order may still grow: wait for it
            if not self._write_early(source):
                return

    def finish(self) -> list[ImportResult]:
        """Every source written: the early ones committed (parsing has ended: none of them
        can grow), then the others, one transaction each, in source order."""
        results: list[ImportResult] = []
        if self._write is not None:
            write, self._write, self._uow = self._write, None, None
            try:
                write.__exit__(None, None, None)  # commits
            except Exception:  # noqa: BLE001 - written again below, which raises it again
                logger.warning("early writes did not commit; writing every source again")
                self._written = []
            results = self._written
            self.committed_early = [r.source for r in results]
            for result in results:
                log_result(result)
        done = {r.source for r in results}
        for source, rows in sorted(self.grouped.items()):
            if source not in done:
                self._say(f"{source}: applying {len(rows)} advisories")
                results.append(self._vdb.apply_rows(source, rows))
        return results

    def _write_early(self, source: str) -> bool:
        rows = self.grouped[source]
        try:
            if self._write is None:
                self._write = self._vdb.store.write()
                self._uow = self._write.__enter__()
            assert self._uow is not None
            self._say(f"{source}: applying {len(rows)} advisories")
            self._written.append(self._vdb.apply_rows_in(self._uow, source, rows))
        except Exception:  # noqa: BLE001 - written again once parsing ends, which raises it
            logger.warning("writing %s early failed; it is written after parsing", source)
            self._abandon()
            return False
        return True

    def _abandon(self, *, count: bool = True) -> None:
        """Roll back every early write; from now on sources are written after parsing."""
        self._early = False
        self._written = []
        if self._write is None:
            return
        write, self._write, self._uow = self._write, None, None
        if count:
            self.rolled_back += 1
        reason = _Abandon()
        try:
            write.__exit__(_Abandon, reason, None)  # rolls back
        except _Abandon:
            pass
