"""Vulnerability database: import throughput, incremental update, matching latency.

Figures, each printed with its target and MET or MISSED:
  1. full import of ../shared/vulndata (parse, normalize, write, diff): advisories per second,
     for the JSON sources (target: the median of `--imports` imports, each into a fresh
     database, on each backend asked, bench/backends.py), the same records as osv.dev
     publishes them (an `all.zip` per ecosystem: what `db sync` reads every day; SQLite), and
     the YAML one apart (SQLite), with the YAML loader's own rate; then everything imported
     again, unchanged, into the same database (each record known by the bytes it was read
     from, `feeds/record_digest.py`, as `db import` of a refreshed checkout finds it), and
     again with those digests cleared (every record read, as before they were kept);
  2. an incremental import of 1,000 changed advisories into the full database: seconds;
  3. the match index at server start: built from the database (no persisted file), opened
     from the file, and opened after the 1,000-advisory delta (file plus the changes since);
  4. matching a 500-package inventory against the full database with the index loaded but no
     verdict cached (every verdict computed exactly): p95 over the runs.
Import figures give CPU time (this process and its parsing processes) beside wall time: on a
shared machine the wall clock says more about the load than about the code. `--per-source`
also imports each JSON source alone, in one process, into a fresh database.
There is no peer tool to run here for these; the targets are absolute.

    python bench/vulndb.py [--runs 50] [--imports 3] [--workers N] [--per-source]
                           [--sqlite] [--postgres] [--database-url URL]
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from sqlalchemy import update  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from bench.backends import add_arguments, backends  # noqa: E402
from dockwatch.clock import SystemClock  # noqa: E402
from dockwatch.feeds.fields import load_yaml  # noqa: E402
from dockwatch.feeds.osv import Limits, iter_path  # noqa: E402
from dockwatch.match.service import INDEX_FILE, MatchIndex, match  # noqa: E402
from dockwatch.model.advisory import Advisory  # noqa: E402
from dockwatch.model.distro import Distro  # noqa: E402
from dockwatch.model.package import Package  # noqa: E402
from dockwatch.storage.sql import tables  # noqa: E402
from dockwatch.storage.sql.engine import Database  # noqa: E402
from dockwatch.storage.sql.migrations import migrate  # noqa: E402
from dockwatch.storage.sql.unit_of_work import SqlStore  # noqa: E402
from dockwatch.vulndb.importer import import_paths  # noqa: E402
from dockwatch.vulndb.service import ImportResult, VulnDb  # noqa: E402

VULNDATA = ROOT.parent / "shared" / "vulndata"


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the parsing pool)."""
    return sum(cpu_split())


def cpu_split() -> tuple[float, float]:
    """CPU time of this process, and of its finished children (the parsing pool)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


@dataclasses.dataclass
class Phases:
    """Where a full import's time went: the parsing processes, and this process, which reads
    the other feeds and writes every source (one transaction each) while they parse."""

    own_cpu: float = 0.0
    write_wall: float = 0.0
    write_cpu: float = 0.0
    pool_cpu: float = 0.0
    sources: int = 0
    last_write_end: float = 0.0
    """Seconds from the import's start to the end of its last write."""


class TimedVulnDb(VulnDb):
    """A `VulnDb` that remembers each source's write: (source, wall s, CPU-s of this process)."""

    def __init__(self, store: SqlStore) -> None:
        super().__init__(store, SystemClock())
        self.writes: list[tuple[str, float, float]] = []
        self.ends: list[float] = []
        """When each write ended (`time.perf_counter`)."""

    def apply_rows(self, source: str, rows: Any, **options: Any) -> ImportResult:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return super().apply_rows(source, rows, **options)
        finally:
            self._done(source, t0, c0)

    def apply_enrichment(
        self, source: str, records: Any, source_fingerprint: str | None = None
    ) -> Any:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return super().apply_enrichment(source, records, source_fingerprint)
        finally:
            self._done(source, t0, c0)

    def _done(self, source: str, t0: float, c0: float) -> None:
        self.ends.append(time.perf_counter())
        self.writes.append((source, self.ends[-1] - t0, time.process_time() - c0))


@dataclasses.dataclass
class ImportRun:
    """One import of the JSON sources into a fresh database, and the database it filled."""

    db: Database
    vdb: TimedVulnDb
    records: int
    wall: float
    cpu: float
    phases: Phases
    writes: list[tuple[str, float, float]]


def timed_import(
    vdb: TimedVulnDb, paths: list[Path], workers: int | None, phases: Phases
) -> tuple[int, float, float, list[tuple[str, float, float]]]:
    """Import `paths`: (records, wall s, CPU-s of every process, the writes); `phases` filled."""
    before = len(vdb.writes)
    t0, c0 = time.perf_counter(), cpu_split()
    report = import_paths(vdb, paths, workers=workers)
    t1, c1 = time.perf_counter(), cpu_split()
    n = sum(len(r.added) + len(r.modified) + r.unchanged for r in report.results)
    writes = vdb.writes[before:]
    phases.own_cpu, phases.pool_cpu = c1[0] - c0[0], c1[1] - c0[1]
    phases.write_wall = sum(wall for _, wall, _ in writes)
    phases.write_cpu = sum(cpu for _, _, cpu in writes)
    phases.sources = len(writes)
    phases.last_write_end = vdb.ends[-1] - t0 if writes else 0.0
    return n, t1 - t0, sum(c1) - sum(c0), writes


def import_json(url: str, roots: list[Path], workers: int | None) -> ImportRun:
    db = Database(url)
    migrate(db)
    vdb = TimedVulnDb(SqlStore(db))
    phases = Phases()
    n, wall, cpu, writes = timed_import(vdb, roots, workers, phases)
    return ImportRun(db, vdb, n, wall, cpu, phases, writes)


def import_line(what: str, run: ImportRun, runs: list[ImportRun]) -> str:
    """The median import `run` of `runs` against the target."""
    rate = run.records / run.wall
    walls = ", ".join(f"{r.wall:.2f}" for r in runs)
    return (
        f"full import, {what}: {run.records} advisories in {run.wall:.2f} s"
        f" = {rate:,.0f} advisories/s (median of {len(runs)} imports: {walls} s)"
        f"  target >= 20,000/s {verdict(rate, 20_000, True)}"
    )


def print_import(backend: str, run: ImportRun, runs: list[ImportRun]) -> None:
    """The median import of a backend against the target, and where its time went."""
    print(import_line(f"JSON sources, {backend}", run, runs))
    p = run.phases
    print(
        f"  CPU: {run.cpu:.2f} s = {run.cpu / run.records * 1000:.3f} CPU-s per 1,000 records"
        f" ({run.records / run.cpu:,.0f} per CPU-second); load average now"
        f" {os.getloadavg()[0]:.2f}"
    )
    print(
        f"  phases: parsing processes {p.pool_cpu:.2f} CPU-s; this process {p.own_cpu:.2f}"
        f" CPU-s, of which writing {p.sources} sources {p.write_cpu:.2f} ({p.write_wall:.2f} s"
        f" of wall, beside the parsing); the last write ended {p.last_write_end:.2f} s after"
        " the start"
    )
    print(
        "  writes: "
        + ", ".join(f"{source} {wall:.2f} s ({cpu:.2f} CPU-s)" for source, wall, cpu in run.writes)
    )


def osv_archives(roots: list[Path], work: Path) -> list[Path]:
    """The record files under `roots` as osv.dev publishes them: an `all.zip` per ecosystem
    (that of a record's first affected package), members named by the record's id."""
    by_ecosystem: dict[str, list[tuple[str, Path]]] = {}
    for root in roots:
        for path in sorted(root.rglob("*.json")):
            try:
                doc = orjson.loads(path.read_bytes())
            except orjson.JSONDecodeError:
                continue
            if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
                continue
            affected = doc.get("affected") or [{}]
            ecosystem = str((affected[0].get("package") or {}).get("ecosystem", "none"))
            by_ecosystem.setdefault(ecosystem.split(":")[0], []).append((doc["id"], path))
    archives = []
    for ecosystem, records in sorted(by_ecosystem.items()):
        archive = work / "archives" / ecosystem / "all.zip"
        archive.parent.mkdir(parents=True)
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # AlmaLinux ships some records twice
            for record_id, path in records:
                zf.write(path, f"{record_id}.json")
        archives.append(archive)
    return archives


def print_archives(runs: list[ImportRun]) -> None:
    """The median import of the osv.dev archives against the import target."""
    run = sorted(runs, key=lambda r: r.wall)[len(runs) // 2]
    print(import_line("the JSON sources as osv.dev archives, SQLite", run, runs))
    print(f"  CPU: {run.cpu:.2f} s ({run.records / run.cpu:,.0f} per CPU-second)")


def per_source(roots: list[Path]) -> None:
    """Each source imported alone, in one process, into a fresh database."""
    for root in roots:
        work = Path(tempfile.mkdtemp(prefix="dockwatch-vulndb-source-"))
        atexit.register(shutil.rmtree, work, True)
        db = Database(f"sqlite:///{work / 'v.db'}")
        migrate(db)
        vdb = VulnDb(SqlStore(db), SystemClock())
        t0, c0 = time.perf_counter(), cpu_seconds()
        report = import_paths(vdb, [root], workers=1)
        took, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        n = sum(len(r.added) + len(r.modified) + r.unchanged for r in report.results)
        print(
            f"  {root.name}: {n} records, {n / took:,.0f} records/s wall,"
            f" {cpu / n * 1000:.3f} CPU-s per 1,000 records ({n / cpu:,.0f} per CPU-second)"
        )


def stored_bytes(db: Database) -> list[tuple[str, int]]:
    """Bytes of the advisory tables and their indexes (SQLite's `dbstat`, when compiled in):
    what a full import writes."""
    try:
        with db.read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT name, SUM(pgsize) FROM dbstat WHERE name LIKE '%vuln%'"
                " GROUP BY name ORDER BY 2 DESC"
            ).fetchall()
    except OperationalError:  # dbstat is an optional SQLite module
        return []
    total = sum(int(size) for _, size in rows)
    return [("total", total)] + [(str(name), int(size)) for name, size in rows[:4]]


def verdict(value: float, target: float, higher_is_better: bool) -> str:
    ok = value >= target if higher_is_better else value <= target
    return "MET" if ok else "MISSED"


def host_debian_packages() -> list[Package]:
    """Real Debian packages (this machine's), with their source packages."""
    out = subprocess.run(
        [
            "dpkg-query",
            "-W",
            "-f=${Package}\\t${Version}\\t${source:Package}\\t${source:Version}\\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pkgs = []
    for line in out.splitlines():
        name, version, src, src_version = line.split("\t")
        pkgs.append(
            Package(
                name=name,
                version=version,
                type="deb",
                purl=f"pkg:deb/debian/{name}@{version}",
                source_name=src,
                source_version=src_version,
            )
        )
    return pkgs


def language_packages(
    advisories: list[Advisory], rng: random.Random, n: int, old: float
) -> list[Package]:
    """Packages named in the advisories, as images hold them: most at their newest released
    version (the largest event version), a share `old` at a version some advisory names."""
    from dockwatch.versions import scheme_for
    from dockwatch.versions.scheme import InvalidVersion

    types = {"PyPI": "python", "Go": "go", "crates.io": "rust", "Bitnami": "bitnami"}
    seen: dict[tuple[str, str], list[str]] = {}
    for adv in advisories:
        for aff in adv.affected:
            if aff.ecosystem in types:
                versions = [
                    e.version for r in aff.ranges for e in r.events if e.version not in ("0", "")
                ]
                seen.setdefault((aff.ecosystem, aff.name), []).extend(versions + list(aff.versions))
    keys = sorted(k for k, v in seen.items() if v)
    rng.shuffle(keys)
    out = []
    for eco, name in keys[:n]:
        versions = seen[(eco, name)]
        scheme = scheme_for(eco)
        assert scheme is not None
        if rng.random() < old:
            version = rng.choice(versions)
        else:
            valid = []
            for v in versions:
                try:
                    valid.append((scheme.key(v), v))
                except InvalidVersion:
                    continue
            version = max(valid, key=lambda kv: kv[0])[1] if valid else versions[0]
        kind = types[eco]
        out.append(
            Package(name=name, version=version, type=kind, purl=f"pkg:{kind}/{name}@{version}")
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--workers", type=int, default=None, help="parsing processes (default: cores)")
    ap.add_argument("--per-source", action="store_true", help="also import each source alone")
    ap.add_argument(
        "--imports", type=int, default=3, help="imports of the JSON sources whose median counts"
    )
    add_arguments(ap)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    if not VULNDATA.exists():
        print(f"{VULNDATA} not found")
        return 2
    work = Path(tempfile.mkdtemp(prefix="dockwatch-vulndb-bench-"))
    atexit.register(shutil.rmtree, work, True)  # a full database: over 100 MB

    roots = sorted(p for p in VULNDATA.iterdir() if p.is_dir())
    yaml_roots = [p for p in roots if next(p.rglob("*.yaml"), None) is not None]
    json_roots = [p for p in roots if p not in yaml_roots]

    made = iter(range(1_000))

    def sqlite_url() -> str:
        return f"sqlite:///{work / f'v{next(made)}.db'}"

    medians: list[tuple[str, ImportRun, list[ImportRun]]] = []
    with backends(args) as asked:
        for make in asked:
            runs: list[ImportRun] = []
            for _ in range(max(1, args.imports)):
                backend = make()  # a fresh database each time
                runs.append(import_json(backend.url or sqlite_url(), json_roots, args.workers))
            median = sorted(runs, key=lambda r: r.wall)[len(runs) // 2]
            medians.append((backend.name, median, runs))
            for run in runs:  # the SQLite median is kept for the rest of the bench
                if backend.url is not None or run is not median:
                    run.db.close()
    sqlite_medians = [run for name, run, _ in medians if name == "SQLite"]
    kept = (
        sqlite_medians[0] if sqlite_medians else import_json(sqlite_url(), json_roots, args.workers)
    )
    db, vdb = kept.db, kept.vdb  # the rest of the bench reads this SQLite database
    json_bytes = stored_bytes(db)
    phases = Phases()

    def imported(paths: list[Path]) -> tuple[int, float, float]:
        n, wall, cpu, _ = timed_import(vdb, paths, args.workers, phases)
        return n, wall, cpu

    archives = osv_archives(json_roots, work)
    archive_runs = [
        import_json(sqlite_url(), archives, args.workers) for _ in range(max(1, args.imports))
    ]
    for run in archive_runs:
        run.db.close()
    yaml_total, yaml_time, yaml_cpu = imported(yaml_roots)
    yaml_files = [f for root in yaml_roots for f in sorted(root.rglob("*.yaml"))]
    t0 = time.perf_counter()
    for f in yaml_files:
        load_yaml(f.read_bytes(), Limits().max_yaml_nodes)
    yaml_parse = time.perf_counter() - t0
    total, full = kept.records + yaml_total, kept.wall + yaml_time
    # the same folders again, as `db import` of a refreshed checkout finds them: every record
    # known by its bytes; then with the read digests cleared, every record read again
    again = imported(json_roots + yaml_roots)
    with db.write() as conn:
        conn.execute(update(tables.vuln_advisories).values(read_digest=None))
    read_again = imported(json_roots + yaml_roots)

    index_file = work / "data" / INDEX_FILE

    cpu_of: dict[str, float] = {}

    def start(name: str) -> tuple[MatchIndex, float]:
        index = MatchIndex(SqlStore(db), cache_file=index_file)
        t0, c0 = time.perf_counter(), time.process_time()
        index.refresh()
        cpu_of[name] = time.process_time() - c0
        return index, time.perf_counter() - t0

    cold, cold_load = start("cold")  # no file yet: built from the database, then persisted
    opened, warm_load = start("file")

    rng = random.Random(5)
    pypa = [
        a
        for a in iter_path(VULNDATA / "pypa-advisory-database", "osv:PyPI")
        if isinstance(a, Advisory)
    ]
    changed = [
        dataclasses.replace(a, summary=(a.summary or "") + " [revised]")
        for a in rng.sample(pypa, 1000)
    ]
    t0 = time.perf_counter()
    inc = vdb.apply("osv:PyPI", changed)
    incremental = time.perf_counter() - t0
    assert len(inc.modified) == 1000

    index, delta_load = start("delta")
    assert (cold.loaded_from, opened.loaded_from, index.loaded_from) == (
        "database",
        "file",
        "file+delta",
    )
    every = [a for a in iter_path(VULNDATA, "osv") if isinstance(a, Advisory)]
    debs = host_debian_packages()
    inventory = rng.sample(debs, min(400, len(debs))) + language_packages(
        every, rng, 500 - min(400, len(debs)), old=0.15
    )
    distro = Distro("debian", "12", "bookworm")
    timings = []
    found = 0
    for _ in range(args.runs):
        index.clear_verdicts()  # exact verdicts every run: only the index is warm
        t0 = time.perf_counter()
        result = match(inventory, distro, index, today=date.today())
        timings.append(time.perf_counter() - t0)
        found = len(result.matches)
    warm = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        match(inventory, distro, index, today=date.today())
        warm.append(time.perf_counter() - t0)
    p95 = statistics.quantiles(timings, n=20)[-1]
    p95_warm = statistics.quantiles(warm, n=20)[-1]

    for name, run, runs in medians:
        print_import(name, run, runs)
    print(
        "  stored: "
        + ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in json_bytes)
        + " (pages of each table and index after the JSON sources, SQLite)"
    )
    print_archives(archive_runs)
    if args.per_source:
        per_source(json_roots)
    print(
        f"  YAML source apart: {yaml_total} advisories in {yaml_time:.2f} s = {yaml_total / yaml_time:,.0f}/s;"
        f" the YAML loader alone reads {len(yaml_files) / yaml_parse:,.0f} files/s;"
        f" CPU {yaml_cpu / yaml_total * 1000:.3f} s per 1,000 records"
    )
    print(f"  everything: {total} advisories in {full:.2f} s = {total / full:,.0f}/s")
    (n_again, wall_again, cpu_again), (_, wall_read, cpu_read) = again, read_again
    print(
        f"everything imported again, unchanged: {n_again} advisories in {wall_again:.2f} s"
        f" = {n_again / wall_again:,.0f}/s, {cpu_again:.2f} CPU-s; every record read again"
        f" {wall_read:.2f} s, {cpu_read:.2f} CPU-s ({wall_read / wall_again:.1f}x the time)"
        f"  target >= 20,000/s {verdict(n_again / wall_again, 20_000, True)}"
    )
    print(
        f"incremental import of 1,000 changed advisories: {incremental:.3f} s  target < 1 s {verdict(incremental, 1.0, False)}"
    )
    entries = index.entry_count()
    print(
        f"match index built from the database (first start): {cold_load:.2f} s ({entries} affected entries), CPU {cpu_of['cold']:.2f} s"
    )
    print(
        f"match index load at server start (persisted file): {warm_load:.3f} s (CPU {cpu_of['file']:.3f} s)  target <= 0.5 s {verdict(warm_load, 0.5, False)}"
    )
    print(
        f"match index load after the 1,000-advisory delta (file + changes): {delta_load:.3f} s (CPU {cpu_of['delta']:.3f} s)  target <= 0.5 s {verdict(delta_load, 0.5, False)}"
    )
    print(
        f"match {len(inventory)} packages ({found} matches): p95 {p95 * 1000:.1f} ms with every verdict computed  target < 20 ms {verdict(p95, 0.020, False)}"
    )
    print(
        f"  with verdicts cached (a second image sharing the packages): p95 {p95_warm * 1000:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
