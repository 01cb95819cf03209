"""Finding writes among many stored findings: CPU per finding the writer inserts, and bytes per
stored finding of `findings` and its indexes, on SQLite.

Stores `--stored` findings (default 1,000,000) over `--images` images the way a registry fills
up, image after image, each finding's id a content hash (random), with the rollup triggers off
during the load, then times the findings writer (`storage/sql/finding_writes.insert_findings`,
the rescan's write path: set-oriented rollups, the writer's page cache and order) inserting
`--batches` batches of `--batch` new findings: a vulnerability newly found in a package of many
images, the day an advisory lands. Each batch is one transaction, committed; CPU time
(`time.process_time`) and wall time are printed per finding, with the load average.

The rescan benchmark (`bench/scanning.py --part rescan`) measures the whole delta; this one
isolates the row write, whose cost grows once the indexes outgrow the page cache.

    python bench/finding_writes.py [--stored N] [--images N] [--batch N] [--batches N]
        [--keep DIR | --data DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.findings import INSERT_FINDINGS_SQL  # noqa: E402
from dockwatch.model.identity import Tenant  # noqa: E402
from dockwatch.storage.finding_repo import FindingState, NewFinding  # noqa: E402
from dockwatch.storage.sql import finding_tenants, finding_writes, rollups  # noqa: E402
from dockwatch.storage.sql.engine import Database  # noqa: E402
from dockwatch.storage.sql.migrations import migrate  # noqa: E402
from dockwatch.storage.sql.schema.epoch_micros import to_micros  # noqa: E402

TENANT = Tenant("123456789012", "us-east-1")
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "MEDIUM", "LOW", "UNTRIAGED")
DETAILS = 2_000
PER_REPO = 20
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _hex(*parts: object) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:32]


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def build(path: Path, stored: int, images: int, seed: int = 5) -> None:
    """A migrated database holding `stored` findings over `images` images."""
    db = Database(f"sqlite:///{path}")
    migrate(db)
    with db.write() as conn:
        key = finding_tenants.ensure_keys(conn, [TENANT])[TENANT]
    db.close()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA cache_size = -262144")
    for name in rollups.TRIGGERS:
        con.execute(f"DROP TRIGGER IF EXISTS {name}")
    con.execute("BEGIN")
    for r in range(images // PER_REPO + 1):
        con.execute(
            "INSERT INTO repositories (id, account_id, region, name, created_at,"
            " image_tag_mutability, scan_on_push) VALUES (?, ?, ?, ?, ?, 'MUTABLE', 0)",
            (r + 1, TENANT.account_id, TENANT.region, f"team/service-{r:04d}", _ts(NOW)),
        )
    con.executemany(
        "INSERT INTO finding_details (ref, doc, title, created_at) VALUES (?, ?, ?, ?)",
        [(_hex("detail", d), b"{}", f"title {d % 300}", _ts(NOW)) for d in range(DETAILS)],
    )
    rng = random.Random(seed)
    per_image = stored // images
    rows: list[tuple[Any, ...]] = []
    for i in range(images):
        repo = i // PER_REPO + 1
        digest = "sha256:" + _hex("image", i) * 2
        first = NOW - timedelta(days=365) + timedelta(minutes=i)
        for v in rng.sample(range(40_000), per_image):
            sev = SEVERITIES[v % len(SEVERITIES)]
            rows.append(
                (_hex(i, v), TENANT.account_id, TENANT.region, key, repo,
                 f"team/service-{repo - 1:04d}",
                 digest, f"CVE-2024-{v:05d}", 0, "ACTIVE", sev, "YES" if v % 3 else "NO", "NO",
                 (v % 100) / 10, (v % 997) / 1000, "osv", to_micros(first), to_micros(NOW),
                 to_micros(NOW), None, _hex("detail", v % DETAILS), None)
            )  # fmt: skip
        if len(rows) >= 50_000 or i == images - 1:
            con.executemany(INSERT_FINDINGS_SQL, rows)
            rows = []
    con.execute("COMMIT")
    con.close()
    db = Database(f"sqlite:///{path}")
    with db.write() as conn:
        rollups.install(conn)
    db.close()


def batch(rng: random.Random, n: int, images: int, size: int, at: datetime) -> list[NewFinding]:
    """`size` new findings: one new vulnerability in `size` random images."""
    vuln = f"CVE-2026-{n:05d}"
    state = FindingState(
        status="ACTIVE", suppressed_by=None, severity=SEVERITIES[n % len(SEVERITIES)],
        fix_available="YES", exploit_available="NO", inspector_score=7.5, epss_score=0.2,
        source="osv", last_observed_at=at, updated_at=at, detail_ref=_hex("detail", n % DETAILS),
    )  # fmt: skip
    out = []
    for i in rng.sample(range(images), min(size, images)):
        repo = i // PER_REPO + 1
        out.append(
            NewFinding(
                id=_hex("new", i, vuln), tenant=TENANT, repository_id=repo,
                repository_name=f"team/service-{repo - 1:04d}", digest="sha256:" + _hex("image", i) * 2,
                vulnerability_id=vuln, generation=0, first_observed_at=at, state=state,
            )
        )  # fmt: skip
    return out


def disk(path: Path, count: int) -> None:
    """Bytes per stored finding of `findings` and each of its indexes (SQLite `dbstat`)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = {"findings"} | {
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'findings'"
            )
        }
        rows = con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    finally:
        con.close()
    mine = sorted(((n, s) for n, s in rows if n in names), key=lambda x: -x[1])
    for name, size in mine:
        print(f"  {name:36} {size / count:8.1f} B/finding")
    print(f"  {'findings and its indexes':36} {sum(s for _, s in mine) / count:8.1f} B/finding")
    print(f"  {'whole database':36} {sum(s for _, s in rows) / count:8.1f} B/finding")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stored", type=int, default=1_000_000)
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="build into DIR and keep it")
    ap.add_argument("--data", type=Path, help="a DIR an earlier --keep built (copied, not changed)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dockwatch-writes-"))
    try:
        path = work / "dockwatch.db"
        if args.data:
            shutil.copy(args.data / "dockwatch.db", path)
            stored = sqlite3.connect(path).execute("SELECT count(*) FROM findings").fetchone()[0]
        else:
            t0, c0 = time.perf_counter(), time.process_time()
            build(path, args.stored, args.images)
            stored = args.stored // args.images * args.images
            print(f"stored {stored:,} findings over {args.images:,} images: "
                  f"{time.perf_counter() - t0:.0f} s, CPU {time.process_time() - c0:.0f} s")  # fmt: skip
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, args.keep / "dockwatch.db")
        print(f"before the writes ({stored:,} findings):")
        disk(path, stored)
        db = Database(f"sqlite:///{path}")
        rng = random.Random(11)
        cpu: list[float] = []
        wall: list[float] = []
        for n in range(args.batches):
            found = batch(rng, n, args.images, args.batch, NOW + timedelta(hours=n + 1))
            t0, c0 = time.perf_counter(), time.process_time()
            with db.write() as conn, finding_writes.page_cache_for(conn, len(found)):
                finding_writes.insert_findings(conn, found)
            cpu.append((time.process_time() - c0) / len(found) * 1e6)
            wall.append((time.perf_counter() - t0) / len(found) * 1e6)
            print(f"batch {n + 1}: {len(found):,} findings, CPU {cpu[-1]:.1f} us/finding, "
                  f"wall {wall[-1]:.1f} us/finding, load {os.getloadavg()[0]:.2f}")  # fmt: skip
        db.close()
        print(f"finding write: CPU {sorted(cpu)[len(cpu) // 2]:.1f} us/finding (median of "
              f"{len(cpu)} batches), wall {sorted(wall)[len(wall) // 2]:.1f} us/finding")  # fmt: skip
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
