"""What the outbox costs a rescan: the finding events of a 1,000-advisory update written in one
unit of work, then read as the webhook fan-out and the scan worker read them.

The events are shaped as `bench/scanning.py --part rescan --images 2000` writes them (13,500
finding events of 1,875 images in 100 repositories, 99% FindingCreated, the rest updated and
closed, interleaved image by image; one `append_many` per findings write), then once more one
unit of work per image, as push scans write them. Printed per event:
CPU time of the append with its commit, stored bytes (SQLite: `dbstat` of the outbox table and
its indexes; PostgreSQL: `pg_total_relation_size`), CPU time of the fan-out read (pages of 500
after a cursor), and the time of the worker's read of the events it subscribes to (none of
these: an index range).

    python bench/outbox.py [--events 13500] [--postgres]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.backends import add_arguments, on_each_backend  # noqa: E402

APPEND_TARGET_US = 5.0
"""CPU per event appended (the issue's budget of the outbox in a rescan's ~100 us per pair)."""
BYTES_TARGET = 200
"""Stored bytes per finding event: a 100,000-image update writes ~500,000 of them."""
READ_TARGET_US = 50.0
"""CPU per event of the fan-out read (decoding the typed event included)."""


def rescan_events(n: int, seed: int = 11) -> list[object]:
    """`n` finding events as one findings write of a rescan makes them."""
    import random

    from dockwatch.model.events import FindingClosed, FindingCreated, FindingUpdated
    from dockwatch.model.identity import Tenant

    rng = random.Random(seed)
    tenant = Tenant("123456789012", "us-east-1")
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    pushed = now - timedelta(days=3)
    out: list[object] = []
    image = 0
    while len(out) < n:
        image += 1
        digest = "sha256:" + hashlib.sha256(f"image{image}".encode()).hexdigest()
        repo = f"svc-{image % 100}"
        for k in range(rng.randint(1, 14)):
            roll = rng.random()
            kind = (
                FindingCreated if roll < 0.98 else FindingUpdated if roll < 0.995 else FindingClosed
            )
            first = now if kind is FindingCreated else now - timedelta(days=rng.randint(1, 90))
            vuln = f"PYSEC-2024-{rng.randint(1, 300)}"
            out.append(
                kind(
                    tenant, now,
                    finding_id=hashlib.sha256(f"{digest}/{vuln}/{k}".encode()).hexdigest()[:32],
                    detail_ref=hashlib.sha256(vuln.encode()).hexdigest()[:32],
                    vulnerability_id=vuln, status="CLOSED" if kind is FindingClosed else "ACTIVE",
                    severity=rng.choice(("CRITICAL", "HIGH", "MEDIUM", "LOW")),
                    fix_available=rng.choice(("YES", "NO", "PARTIAL")),
                    first_observed_at=first, last_observed_at=now, updated_at=now,
                    repository_name=repo, image_digest=digest, image_tags=("latest", f"v{image}"),
                    pushed_at=pushed,
                    changes=("severity",) if kind is FindingUpdated else (),
                )
            )  # fmt: skip
    return out[:n]


def stored_bytes(db: object) -> int:
    from sqlalchemy import text

    from dockwatch.storage.sql.engine import Database

    assert isinstance(db, Database)
    with db.read() as conn:
        if db.is_sqlite:
            query = (
                "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = 'outbox' "
                "OR name IN (SELECT name FROM sqlite_master WHERE tbl_name = 'outbox')"
            )
        else:
            query = "SELECT pg_total_relation_size('outbox')"
        return int(conn.execute(text(query)).scalar() or 0)


def run(url: str | None, n: int) -> tuple[int, dict[str, str]]:
    from dockwatch.scan.worker import SUBSCRIBED
    from dockwatch.storage.sql.engine import Database
    from dockwatch.storage.sql.migrations import migrate
    from dockwatch.storage.sql.unit_of_work import SqlStore

    work = Path(tempfile.mkdtemp(prefix="dockwatch-outbox-bench-"))
    db = Database(url or f"sqlite:///{work / 'dockwatch.db'}")
    try:
        migrate(db)
        store = SqlStore(db)
        events = rescan_events(n)
        empty = stored_bytes(db)
        c0, t0 = time.process_time(), time.perf_counter()
        with store.write() as uow:
            uow.outbox.append_many(events)  # type: ignore[arg-type]
        append_cpu, append_wall = time.process_time() - c0, time.perf_counter() - t0
        size = stored_bytes(db) - empty
        # the same events as push scans write them: one unit of work per image
        per_image: dict[str, list[object]] = {}
        for e in events:
            per_image.setdefault(e.image_digest, []).append(e)  # type: ignore[attr-defined]
        before = stored_bytes(db)
        c0 = time.process_time()
        for group in per_image.values():
            with store.write() as uow:
                uow.outbox.append_many(group)  # type: ignore[arg-type]
        image_us = (time.process_time() - c0) / n * 1e6
        image_bytes = (stored_bytes(db) - before) / n
        c0, t0 = time.process_time(), time.perf_counter()
        read, cursor = 0, 0
        while True:
            with store.read() as uow:
                page = uow.outbox.read_after(cursor, limit=500)
            if not page:
                break
            read += len(page)
            cursor = page[-1].id
            if read >= n:
                break
        read_cpu, read_wall = time.process_time() - c0, time.perf_counter() - t0
        t0 = time.perf_counter()
        with store.read() as uow:
            subscribed = uow.outbox.read_after(0, SUBSCRIBED, limit=500)
        worker_ms = (time.perf_counter() - t0) * 1e3
    finally:
        db.close()
        shutil.rmtree(work, ignore_errors=True)
    assert read == n and not subscribed, (read, len(subscribed))  # the first n: one write
    append_us, read_us, per_event = append_cpu / n * 1e6, read_cpu / n * 1e6, size / n
    status = 0
    print(f"{n:,} finding events in one unit of work")
    for label, value, target, unit in (
        ("append (CPU, with the commit)", append_us, APPEND_TARGET_US, "us/event"),
        ("stored", per_event, BYTES_TARGET, "B/event"),
        ("fan-out read, pages of 500 (CPU)", read_us, READ_TARGET_US, "us/event"),
    ):
        met = value <= target
        status |= 0 if met else 1
        print(
            f"  {label}: {value:,.1f} {unit}  target <= {target:,.0f} {'MET' if met else 'MISSED'}"
        )
    print(
        f"  the same events written image by image ({len(per_image):,} units of work, as push "
        f"scans write them): {image_us:,.1f} us/event (CPU, a commit each), {image_bytes:,.0f} "
        "B/event"
    )
    print(
        f"  wall: append {append_wall:.2f} s, read {read_wall:.2f} s; "
        f"the worker's read of its own events: {worker_ms:.1f} ms"
    )
    return status, {
        "append us/event": f"{append_us:.1f}",
        "bytes/event": f"{per_event:.0f}",
        "read us/event": f"{read_us:.1f}",
        "per image: us/event": f"{image_us:.1f}",
        "per image: bytes/event": f"{image_bytes:.0f}",
        "worker read ms": f"{worker_ms:.1f}",
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=13_500)
    add_arguments(ap)
    args = ap.parse_args()
    return on_each_backend(args, "outbox", lambda backend: run(backend.url, args.events))


if __name__ == "__main__":
    sys.exit(main())
