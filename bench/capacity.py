"""Unit costs for capacity planning (docs/capacity.md): what one image, one finding and one
affected advisory entry cost in disk and memory.

1. The match index: the shared advisory snapshot is imported (`dockwatch db import`), then a
   fresh process opens the persisted index (`match-index.bin`) and looks up every package key in
   it, as a server does over time for the keys its images hold. Printed: entries, keys, file
   bytes, resident memory after the open and after every key is decoded, per entry.
2. Disk per image and per finding: a `dockwatch serve` on that database (ENHANCED scanning,
   every repository continuous) receives the real corpus images pushed with skopeo, each into
   its own repository; once each has its findings, SQLite's `dbstat` gives the bytes each table
   and index grew by. Tables are grouped into findings (`findings`, its indexes, details, detail
   packages, rollups), events (`outbox`) and image metadata (everything else the pushes wrote);
   blob bytes are the data folder's `blobs` growth (layers stored once, shared by digest).

With a handful of images no finding detail is shared, so the per-finding disk here is the
unshared worst case; `bench/findings.py` measures it at 1,000,000 findings with details shared
as they are in a real registry. The rescan and listing curves come from `bench/scanning.py`
and `bench/findings.py`; docs/capacity.md combines the three.

    python bench/capacity.py
"""

from __future__ import annotations

import gc
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.cli import db_import  # noqa: E402
from tests.support.corpus import IMAGES as CORPUS_IMAGES  # noqa: E402
from tests.support.servers import start_dockwatch  # noqa: E402

from bench.scanning import CORPUS, VULNDATA, enhanced, pushed  # noqa: E402

IMAGES = [name for name in CORPUS_IMAGES if name != "rpmdb-alien"]
"""The corpus's real images (rpmdb-alien is a three-package rpm database fixture)."""

FINDING_TABLES = {
    "findings",
    "finding_details",
    "detail_packages",
    "finding_image_counts",
    "finding_layer_counts",
    "finding_package_counts",
    "finding_title_counts",
    "finding_detail_counts",
    "finding_image_fix_counts",
    "finding_image_first_counts",
}

_INDEX_PROBE = textwrap.dedent(
    """
    import gc, json, sys, time
    from pathlib import Path

    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024

    from dockwatch.app import build
    from dockwatch.config import Settings

    services = build(Settings(data_dir=Path(sys.argv[1])))
    index = services.scanner.index
    gc.collect()
    before = rss()
    t0 = time.perf_counter()
    index.refresh()
    opened = time.perf_counter() - t0
    after_open = rss()
    import sqlite3
    con = sqlite3.connect(f"file:{sys.argv[1]}/dockwatch.db?mode=ro", uri=True)
    keys = con.execute("SELECT DISTINCT ecosystem, name FROM vuln_affected").fetchall()
    con.close()
    t0 = time.perf_counter()
    for ecosystem, name in keys:
        index.advisories(ecosystem, name)
    decoded = time.perf_counter() - t0
    gc.collect()
    print(json.dumps({
        "loaded_from": index.loaded_from, "entries": index.entry_count(), "keys": len(keys),
        "open_s": opened, "decode_s": decoded, "rss_open": after_open - before,
        "rss_decoded": rss() - before,
    }))
    services.close()
    """
)


def table_bytes(db: Path) -> dict[str, int]:
    """Bytes per table, its indexes counted under the table they index."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        owner = dict(con.execute("SELECT name, tbl_name FROM sqlite_master"))
        out: dict[str, int] = {}
        for name, size in con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            out[table] = out.get(table, 0) + int(size)
        return out
    finally:
        con.close()


def count(db: Path, sql: str) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute(sql).fetchone()[0])
    finally:
        con.close()


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def index_costs(data: Path) -> dict[str, float]:
    """The persisted index opened, then every key decoded, in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", _INDEX_PROBE, str(data)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
    )
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    figures["file_bytes"] = (data / "match-index.bin").stat().st_size
    return figures


def main() -> int:
    if not (CORPUS / "corpus.json").exists() or not VULNDATA.exists():
        print("needs the corpus (make corpus) and ../shared/vulndata")
        return 2
    work = Path(tempfile.mkdtemp(prefix="dockwatch-capacity-"))
    try:
        data = work / "data"
        t0 = time.perf_counter()
        db_import(data, VULNDATA)
        print(f"advisory snapshot imported in {time.perf_counter() - t0:.1f} s")
        index_costs(data)  # the first open builds and persists the file
        idx = index_costs(data)
        entries = max(1, int(idx["entries"]))
        print(
            f"\nmatch index: {entries:,} affected entries under {int(idx['keys']):,} package keys "
            f"(opened from {idx['loaded_from']} in {idx['open_s']:.2f} s)"
        )
        print(
            f"  file {idx['file_bytes'] / 1e6:.1f} MB = {idx['file_bytes'] / entries:.0f} B/entry"
        )
        print(
            f"  resident after the open {idx['rss_open'] / 1e6:.1f} MB; after every key decoded "
            f"{idx['rss_decoded'] / 1e6:.1f} MB = {idx['rss_decoded'] / entries:,.0f} B/entry "
            f"(decoding took {idx['decode_s']:.1f} s)"
        )

        db = data / "dockwatch.db"
        gc.collect()
        before, blobs_before = table_bytes(db), folder_bytes(data / "blobs")
        server = start_dockwatch(data)
        home = work / "home"
        try:
            enhanced(server)
            for name in IMAGES:
                seconds = pushed(server, home, name)
                print(f"pushed {name}: findings {seconds:.2f} s after the push")
        finally:
            server.stop()
        after, blobs_after = table_bytes(db), folder_bytes(data / "blobs")
        findings = count(db, "SELECT COUNT(*) FROM findings")
        details = count(db, "SELECT COUNT(*) FROM finding_details")
        packages = count(db, "SELECT COUNT(*) FROM inventory_packages")
        grown = {
            t: after.get(t, 0) - before.get(t, 0)
            for t in after
            if after.get(t, 0) != before.get(t, 0)
        }
        finding_bytes = sum(v for t, v in grown.items() if t in FINDING_TABLES)
        event_bytes = grown.get("outbox", 0)
        image_bytes = sum(v for t, v in grown.items() if t not in FINDING_TABLES and t != "outbox")
        n = len(IMAGES)
        print(f"\n{n} images: {findings:,} findings ({details:,} distinct details), "
              f"{packages:,} stored packages")  # fmt: skip
        print(f"  blobs {(blobs_after - blobs_before) / 1e6:.1f} MB (layers stored once)")
        print(
            f"  image metadata {image_bytes / 1e3:,.0f} kB = {image_bytes / n / 1e3:,.0f} kB/image"
        )
        print(
            f"  findings (rows, indexes, details, rollups) {finding_bytes / 1e6:.1f} MB = "
            f"{finding_bytes / max(1, findings):,.0f} B/finding with no detail shared"
        )
        print(f"  events (outbox) {event_bytes / 1e3:,.0f} kB = "
              f"{event_bytes / max(1, findings):,.0f} B/finding")  # fmt: skip
        print("\nby table (bytes grown, indexes included):")
        for table, size in sorted(grown.items(), key=lambda kv: -kv[1]):
            print(f"  {table:32} {size:>12,}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
