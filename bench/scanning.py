"""Scanning: push-to-findings latency, cold and with the base layer already catalogued.

For each corpus image, skopeo pushes it to a dockwatch server (ENHANCED scanning, every
repository continuous, the shared advisory snapshot imported); the latency is measured on the
server's own clock from the `ManifestPushed` outbox row (written with the manifest PUT's 201) to
the `ScanCompleted` row (written with the findings, in their transaction). "Cold" pushes each
image into a fresh data folder (only the advisory database copied in; the server has loaded its
advisory index, as a running server has); "warm-base" pushes it
after debian-minbase, whose layer it shares, is already catalogued. The cataloguing time of the
same image in process is measured for the cold target.

    python bench/scanning.py [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.cli import db_import  # noqa: E402
from tests.support.servers import Server, start_dockwatch  # noqa: E402
from tests.support.skopeo import copy  # noqa: E402

from dockwatch.catalog.service import catalog_image  # noqa: E402

CORPUS = Path("/var/tmp/dockwatch-corpus")
VULNDATA = ROOT.parent / "shared" / "vulndata"
IMAGES = ["debian-python", "debian-node", "debian-java", "debian-go", "distroless-debian"]


def latency(server: Server, repository: str, timeout: float = 120) -> float:
    """Seconds from the push's outbox row to its scan's, on the server clock."""
    db = server.data / "dockwatch.db"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = con.execute(
                "SELECT event_type, created_at, payload FROM outbox WHERE subject = ? AND event_type IN ('ManifestPushed', 'ScanCompleted') ORDER BY id",
                (repository,),
            ).fetchall()
        finally:
            con.close()
        pushed = [r for r in rows if r[0] == "ManifestPushed"]
        scanned = [r for r in rows if r[0] == "ScanCompleted"]
        if pushed and scanned:
            t0 = datetime.fromisoformat(pushed[-1][1])
            t1 = datetime.fromisoformat(scanned[-1][1])
            return (t1 - t0).total_seconds()
        time.sleep(0.02)
    raise TimeoutError(f"{repository} was not scanned within {timeout}s")


def enhanced(server: Server) -> None:
    """Turn on enhanced scanning once the server has loaded its advisory index."""
    import httpx

    deadline = time.monotonic() + 120
    while httpx.get(f"{server.url}/healthz").json().get("scanner") != "ready":
        if time.monotonic() > deadline:
            raise TimeoutError("the scanner did not get ready")
        time.sleep(0.05)
    with server.client() as c:
        r = c.put(
            "/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED", "rules": []}
        )
        assert r.status_code == 200, r.text


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    if not (CORPUS / "corpus.json").exists() or not VULNDATA.exists():
        print("needs the corpus (make corpus) and ../shared/vulndata")
        return 2
    work = Path(tempfile.mkdtemp(prefix="dockwatch-scan-bench-"))
    template = work / "template"
    db_import(template, VULNDATA)
    home = work / "home"
    cold: dict[str, list[float]] = {n: [] for n in IMAGES}
    warm: dict[str, list[float]] = {n: [] for n in IMAGES if n != "distroless-debian"}
    catalog: dict[str, list[float]] = {n: [] for n in IMAGES}
    try:
        for rep in range(args.reps):
            for name in IMAGES:
                t0 = time.perf_counter()
                catalog_image(f"oci:{CORPUS / name}:latest")
                catalog[name].append(time.perf_counter() - t0)
                data = work / f"cold-{rep}-{name}"
                shutil.copytree(template, data)
                server = start_dockwatch(data)
                try:
                    enhanced(server)
                    copy(
                        f"oci:{CORPUS / name}:latest",
                        f"docker://{server.host}/{name}:latest",
                        home=home,
                        dest_auth=server.auth,
                    )
                    cold[name].append(latency(server, name))
                finally:
                    server.stop()
                    shutil.rmtree(data, ignore_errors=True)
            data = work / f"warm-{rep}"
            shutil.copytree(template, data)
            server = start_dockwatch(data)
            try:
                enhanced(server)
                copy(
                    f"oci:{CORPUS / 'debian-minbase'}:latest",
                    f"docker://{server.host}/debian-minbase:latest",
                    home=home,
                    dest_auth=server.auth,
                )
                latency(server, "debian-minbase")
                for name in warm:
                    copy(
                        f"oci:{CORPUS / name}:latest",
                        f"docker://{server.host}/{name}:latest",
                        home=home,
                        dest_auth=server.auth,
                    )
                    warm[name].append(latency(server, name))
            finally:
                server.stop()
                shutil.rmtree(data, ignore_errors=True)
            print(f"repetition {rep + 1}/{args.reps} done", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\npush-to-findings latency, median of {args.reps} (server clock, ManifestPushed -> ScanCompleted)"
    )
    print(
        f"{'image':20} {'catalog s':>10} {'cold s':>8} {'cold target':>22} {'warm-base s':>12} {'warm target':>20}"
    )
    for name in IMAGES:
        cat = statistics.median(catalog[name])
        c = statistics.median(cold[name])
        cold_ok = "MET" if c <= cat + 0.3 else "MISSED"
        line = (
            f"{name:20} {cat:10.3f} {c:8.3f} {'<= ' + format(cat + 0.3, '.3f') + ' ' + cold_ok:>22}"
        )
        if name in warm:
            w = statistics.median(warm[name])
            line += f" {w:12.3f} {'<= 0.5 ' + ('MET' if w <= 0.5 else 'MISSED'):>20}"
        print(line)
    print(json.dumps({"cold": cold, "warm": warm, "catalog": catalog}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
