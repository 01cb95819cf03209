"""Feed sync: `dockwatch db sync` of the OSV feeds from a local server, as a user runs it.

The JSON sources of ../shared/vulndata as osv.dev publishes them (an `all.zip` per ecosystem,
`bench/vulndb.py::osv_archives`) are served by a local HTTP server, unthrottled and at each
`--rates` MB/s (a download from osv.dev's bucket runs at what the user's link gives; each feed
downloads while the one before is parsed, `vulndb/download_ahead.py`, so a throttled line also
says how much longer than unthrottled the sync took, against the downloads alone). Each run
is `dockwatch db sync` of the four feeds into a new data folder (SQLite; made and migrated
first, as a daily sync finds it), timed from outside: the process's start, the downloads, their
verification, the parsing processes and the writes are all counted, and the CPU of the command
and of its parsing processes. The downloads alone (each feed fetched and verified, nothing
parsed) are timed apart, in process.
Printed per rate: medians of `--rounds` runs, and the records synced per second against the
import's target (a sync is an import from upstream; `bench/vulndb.py`). No peer tool syncs
these feeds here.

Then the next day, unthrottled: osv.dev rewrites each `all.zip` daily with a few records
changed, so the data folder synced from the archives above syncs again from archives where
`--changed` of the records (a share, spread over every archive) were modified. Measured twice
per round, each time on a data folder synced the day before: as the sync runs (the records
stored from the same bytes are not read again, `feeds/record_digest.py`), and with the stored
read digests cleared first, so that every record is read as before they were kept.

    python bench/feed_sync.py [--rounds 3] [--rates 10] [--changed 0.01]
"""

from __future__ import annotations

import argparse
import atexit
import io
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHUNK = 64 << 10


def serve(archives: dict[str, bytes], rate: float | None) -> tuple[ThreadingHTTPServer, str]:
    """A server of `/<ecosystem>/all.zip`, each answer sent at `rate` bytes/s (None: at once)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            pass

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            body = archives.get(self.path.strip("/").removesuffix("/all.zip"))
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", f'"{len(body)}"')
            self.end_headers()
            start = time.perf_counter()
            for at in range(0, len(body), CHUNK):
                if rate is not None:
                    time.sleep(max(0.0, start + at / rate - time.perf_counter()))
                self.wfile.write(body[at : at + CHUNK])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def downloads(base: str, ecosystems: list[str], work: Path) -> None:
    """The downloads alone, in a fresh process: each feed fetched and verified, nothing parsed;
    print the wall seconds as JSON."""
    import httpx

    from dockwatch.feeds.download import DownloadPolicy
    from dockwatch.feeds.feed import Fetched
    from dockwatch.feeds.osv_feed import OsvFeed

    policy = DownloadPolicy(tmp_root=work)
    t0 = time.perf_counter()
    with httpx.Client(timeout=60) as http:
        for e in ecosystems:
            fetched = OsvFeed(e, url=f"{base}/{e}/all.zip", policy=policy).fetch(None, http)
            assert isinstance(fetched, Fetched), fetched
            fetched.close()
    print(json.dumps({"wall": time.perf_counter() - t0}))


def next_day(archives: dict[str, bytes], share: float) -> tuple[dict[str, bytes], int]:
    """The archives with `share` of their records modified (every n-th member of each: a later
    `modified`, a summary more), and how many were."""
    step = max(1, round(1 / share)) if share > 0 else 0
    out, changed = {}, 0
    for name, body in archives.items():
        buf = io.BytesIO()
        with (
            zipfile.ZipFile(io.BytesIO(body)) as src,
            zipfile.ZipFile(buf, "w") as dst,
            warnings.catch_warnings(),
        ):
            # AlmaLinux's folders hold some records twice: their archive repeats those names
            warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
            for n, info in enumerate(src.infolist()):
                data = src.read(info)
                if step and n % step == step // 2:
                    doc = json.loads(data)
                    doc["modified"] = "2026-12-07T00:00:00Z"
                    doc["summary"] = f"{doc.get('summary', '')} (updated)"
                    data = json.dumps(doc).encode()
                    changed += 1
                dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
        out[name] = buf.getvalue()
    return out, changed


def run(
    mode: str,
    base: str,
    ecosystems: list[str],
    day_before: str | None = None,
    forget: bool = False,
) -> tuple[float, float, int]:
    """(wall s, CPU s, records stored) of one run in a fresh process: the downloads alone
    (`mode` "download"; CPU and records 0), or `dockwatch db sync` of the feeds into a new
    data folder, or into one synced from `day_before` first (untimed; with `forget`, its read
    digests then cleared)."""
    work = Path(tempfile.mkdtemp(prefix="dockwatch-feed-sync-"))
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "TMPDIR": str(work)}
    env["DOCKWATCH_FEED_URLS"] = ",".join(f"osv:{e}={base}/{e}/all.zip" for e in ecosystems)
    data = ["--data", str(work / "data")]
    cli = [sys.executable, "-m", "dockwatch", "--log-level", "WARNING", "db"]
    if mode == "download":
        command = [sys.executable, __file__, "--downloads", base, ",".join(ecosystems), str(work)]
    else:
        command = [
            *cli,
            "sync",
            *data,
            *(arg for e in ecosystems for arg in ("--feed", f"osv:{e}")),
        ]
    try:
        if mode != "download":  # a data folder made and migrated, as a daily sync finds it
            subprocess.run([*cli, "status", *data], capture_output=True, env=env, check=True)
        if day_before is not None:
            urls = ",".join(f"osv:{e}={day_before}/{e}/all.zip" for e in ecosystems)
            before_env = {**env, "DOCKWATCH_FEED_URLS": urls}
            subprocess.run(command, capture_output=True, env=before_env, check=True)
            if forget:
                with sqlite3.connect(work / "data" / "dockwatch.db") as conn:
                    conn.execute("UPDATE vuln_advisories SET read_digest = NULL")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if out.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed: {out.stdout}{out.stderr[-2000:]}")
        if mode == "download":
            return float(json.loads(out.stdout.splitlines()[-1])["wall"]), 0.0, 0
        cpu = sum(getattr(after, f) - getattr(before, f) for f in ("ru_utime", "ru_stime"))
        status = subprocess.run(
            [*cli, "status", "--json", *data], capture_output=True, text=True, env=env, check=True
        )
        records = sum(s["advisories"] for s in json.loads(status.stdout)["sources"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return wall, cpu, records


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rates", default="10", help="MB/s, comma-separated (besides unthrottled)")
    ap.add_argument(
        "--changed", type=float, default=0.01, help="share of records changed the next day"
    )
    ap.add_argument("--downloads", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.downloads:
        base, ecosystems, work = args.downloads
        downloads(base, ecosystems.split(","), Path(work))
        return 0
    from bench.vulndb import VULNDATA, osv_archives

    if not VULNDATA.exists():
        print(f"{VULNDATA} not found")
        return 2
    work = Path(tempfile.mkdtemp(prefix="dockwatch-feed-sync-bench-"))
    atexit.register(shutil.rmtree, work, True)
    roots = sorted(p for p in VULNDATA.iterdir() if p.is_dir())
    json_roots = [p for p in roots if next(p.rglob("*.yaml"), None) is None]
    paths = osv_archives(json_roots, work)
    archives = {p.parent.name: p.read_bytes() for p in paths}
    ecosystems = sorted(archives)
    size = sum(map(len, archives.values()))
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print(f"{len(ecosystems)} feeds ({', '.join(ecosystems)}), {size / 1e6:.1f} MB of archives")
    rates: list[float | None] = [None, *(float(r) * 1e6 for r in args.rates.split(",") if r)]
    unthrottled: tuple[float, float] | None = None  # (sync, downloads alone) medians
    # the command syncs its feeds in their configured order, not in the order named
    from dockwatch.vulndb.runner import configured_feeds

    named = [f"osv:{e}" for e in ecosystems]
    first_synced = configured_feeds({}, named)[0].name.removeprefix("osv:")
    for rate in rates:
        server, base = serve(archives, rate)
        alone: list[float] = []
        synced: list[tuple[float, float, int]] = []
        try:
            for _ in range(args.rounds):
                alone.append(run("download", base, ecosystems)[0])
                synced.append(run("sync", base, ecosystems))
        finally:
            server.shutdown()
        wall = statistics.median(w for w, _, _ in synced)
        cpu = statistics.median(c for _, c, _ in synced)
        records = synced[0][2]
        rate_per_s = records / wall
        speed = "unthrottled" if rate is None else f"{rate / 1e6:.0f} MB/s"
        print(
            f"served {speed}: db sync of {records} records {wall:.2f} s"
            f" (runs: {', '.join(f'{w:.2f}' for w, _, _ in synced)}), {cpu:.2f} CPU-s;"
            f" the downloads alone {statistics.median(alone):.2f} s"
        )
        print(f"  {rate_per_s:,.0f} records/s  target >= 20,000/s {verdict(rate_per_s >= 20_000)}")
        downloading = statistics.median(alone)
        if rate is None:
            unthrottled = (wall, downloading)
        elif unthrottled is not None:  # what slower downloads added, against what they took
            added = downloading - unthrottled[1]
            first_alone = len(archives[first_synced]) / rate
            print(
                f"  the downloads took {added:.2f} s longer than unthrottled; the sync"
                f" {wall - unthrottled[0]:.2f} s longer (the first feed synced, {first_synced},"
                f" downloads in {first_alone:.2f} s at this rate, beside nothing)"
            )
    day_after, changed = next_day(archives, args.changed)
    first, base = serve(archives, None)
    second, after = serve(day_after, None)
    known: list[tuple[float, float, int]] = []
    every: list[tuple[float, float, int]] = []
    try:
        for _ in range(args.rounds):
            known.append(run("sync", after, ecosystems, day_before=base))
            every.append(run("sync", after, ecosystems, day_before=base, forget=True))
    finally:
        first.shutdown()
        second.shutdown()
    wall, cpu = statistics.median(w for w, _, _ in known), statistics.median(c for _, c, _ in known)
    wall_all = statistics.median(w for w, _, _ in every)
    cpu_all = statistics.median(c for _, c, _ in every)
    records = known[0][2]
    print(
        f"the next day, {changed} of {records} records changed: db sync {wall:.2f} s"
        f" (runs: {', '.join(f'{w:.2f}' for w, _, _ in known)}), {cpu:.2f} CPU-s;"
        f" every record read: {wall_all:.2f} s"
        f" (runs: {', '.join(f'{w:.2f}' for w, _, _ in every)}), {cpu_all:.2f} CPU-s"
        f" ({wall_all / wall:.1f}x the time, {cpu_all / cpu:.1f}x the CPU)"
    )
    rate_per_s = records / wall
    print(f"  {rate_per_s:,.0f} records/s  target >= 20,000/s {verdict(rate_per_s >= 20_000)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
