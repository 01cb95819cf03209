"""Which databases a benchmark runs on: SQLite in its temp folder (the default), the database
of `--database-url` (or `DOCKWATCH_DATABASE_URL`, as the product reads it; it must be empty),
and with `--postgres` a fresh database of a throwaway PostgreSQL cluster started the way the
test suite starts one (`tests/support/postgres.py`: Debian's initdb and pg_ctl, a free port, a
temp folder; stopped at the end). Asked for more than one, the benchmark runs once on each and
prints their figures side by side."""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.postgres import PostgresCluster


@dataclass(frozen=True)
class Backend:
    """One database a run uses: `url` None is SQLite in the run's own data folder."""

    name: str
    url: str | None


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """`--sqlite`, `--database-url URL`, `--postgres`."""
    ap.add_argument("--sqlite", action="store_true", help="run on SQLite (the default alone)")
    ap.add_argument(
        "--database-url",
        default=os.environ.get("DOCKWATCH_DATABASE_URL"),
        help="run on this empty database too (default: $DOCKWATCH_DATABASE_URL)",
    )
    ap.add_argument(
        "--postgres",
        action="store_true",
        help="run on a throwaway PostgreSQL cluster too (Debian package postgresql)",
    )


@contextlib.contextmanager
def backends(args: argparse.Namespace) -> Iterator[list[Callable[[], Backend]]]:
    """One factory per asked backend; each call gives a fresh database where it can (a new
    database of the throwaway cluster), so repeated runs do not see each other's rows."""
    asked: list[Callable[[], Backend]] = []
    if args.sqlite or not (args.database_url or args.postgres):
        asked.append(lambda: Backend("SQLite", None))
    if args.database_url:
        url = str(args.database_url)
        asked.append(lambda: Backend(url.split(":", 1)[0].split("+", 1)[0], url))
    cluster = PostgresCluster.start() if args.postgres else None
    try:
        if cluster is not None:
            started = cluster
            asked.append(lambda: Backend("PostgreSQL", started.create_database()))
        yield asked
    finally:
        if cluster is not None:
            cluster.stop()


def side_by_side(results: dict[str, dict[str, str]]) -> None:
    """Print one row per figure, one column per backend (figures as each run formatted them)."""
    names = list(results)
    rows = list(dict.fromkeys(k for figures in results.values() for k in figures))
    width = max([len(r) for r in rows] + [6])
    print("\n" + f"{'figure':{width}}  " + "  ".join(f"{n:>14}" for n in names))
    for row in rows:
        cells = "  ".join(f"{results[n].get(row, '-'):>14}" for n in names)
        print(f"{row:{width}}  {cells}")


Figures = dict[str, str]
"""A run's key figures by name, as it formatted them."""


def on_each_backend(
    args: argparse.Namespace, what: str, run: Callable[[Backend], tuple[int, Figures]]
) -> int:
    """`run` on each asked backend under a heading naming `what`; with more than one, their
    figures side by side. The statuses run returned, or-ed."""
    status = 0
    results: dict[str, Figures] = {}
    with backends(args) as asked:
        for make in asked:
            backend = make()
            print(f"\n== {what} on {backend.name} ==")
            code, results[backend.name] = run(backend)
            status |= code
    if len(results) > 1:
        side_by_side(results)
    return status


def copy_into(database: Path, url: str) -> float:
    """Copy the SQLite database file `database` into the empty database `url` (`dockwatch
    migrate-store`'s table copy); seconds taken."""
    from dockwatch.storage.sql.engine import Database
    from dockwatch.storage.store_copy import copy_tables

    t0 = time.perf_counter()
    source, target = Database(f"sqlite:///{database}"), Database(url)
    try:
        copy_tables(source, target)
    finally:
        source.close()
        target.close()
    return time.perf_counter() - t0
