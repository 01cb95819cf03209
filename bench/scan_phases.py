"""Where a warm-base scan on push spends its CPU, in process: the worker's own code path.

`bench/scanning.py --part latency` measures push-to-findings on the server's clock, which a
loaded machine inflates by its load (a 2-core machine at load 8 gives a process about a quarter
of a core). This runs the same scans in one process and reports CPU time (all threads, so the
layer decoder's too) beside wall time, per phase: reading new layers, the rest of cataloguing
(catalogers, cache), matching and drafting, the finding write, the inventory write.

The corpus images are pushed with skopeo to a `serve --no-worker` server (ENHANCED, every
repository continuous, the shared advisory snapshot imported), then a scan worker built over the
same data folder runs debian-minbase's job, then each image's: each scan is warm-base (the base
layer catalogued), as in the latency benchmark. Medians of --reps fresh copies of the folder.

    python bench/scan_phases.py [--reps 3] [--images debian-python ...]
"""

from __future__ import annotations

import argparse
import functools
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.cli import db_import  # noqa: E402
from tests.support.servers import start_dockwatch  # noqa: E402
from tests.support.skopeo import copy  # noqa: E402

from dockwatch import app  # noqa: E402
from dockwatch.config import Settings  # noqa: E402

CORPUS = Path("/var/tmp/dockwatch-corpus")
VULNDATA = ROOT.parent / "shared" / "vulndata"
IMAGES = ["debian-python", "debian-node", "debian-java", "debian-go"]
PHASES = ["read layers", "catalog", "match+draft", "finding write", "inventory"]

cpu: dict[str, float] = defaultdict(float)


def timed(owner: Any, name: str, phase: str) -> None:
    """Add the CPU time of `owner.name` to `phase` (a bench-only wrapper)."""
    inner: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(inner)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            cpu[phase] += time.process_time() - started

    setattr(owner, name, wrapper)


def instrument() -> None:
    """Wrap the functions each phase runs in."""
    from dockwatch.catalog.service import ImageCataloguer
    from dockwatch.findings.service import FindingWriter
    from dockwatch.scan import service
    from dockwatch.storage.sql.catalog_repo import SqlCatalogRepo

    timed(ImageCataloguer, "_read", "read layers")
    timed(ImageCataloguer, "catalog", "catalog")
    timed(service, "evaluate", "match+draft")
    timed(FindingWriter, "apply", "finding write")
    timed(SqlCatalogRepo, "store_inventory", "inventory")


def pushed_folder(work: Path, images: list[str]) -> Path:
    """A data folder with the advisories imported, ENHANCED on, and the images pushed (no
    scan run yet)."""
    data = work / "pushed"
    db_import(data, VULNDATA)
    services = app.build(Settings(data_dir=data, test_mode=True))
    services.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
    services.close()
    server = start_dockwatch(data, extra_args=("--no-worker",))
    try:
        for name in ("debian-minbase", *images):
            copy(
                f"oci:{CORPUS / name}:latest",
                f"docker://{server.host}/{name}:latest",
                home=work / "home",
                dest_auth=server.auth,
            )
    finally:
        server.stop()
    return data


def one_round(
    pushed: Path, work: Path, images: list[str]
) -> dict[str, tuple[float, float, dict[str, float]]]:
    """(wall, CPU, CPU by phase) of each image's warm-base scan, in a fresh copy of `pushed`."""
    data = work / "run"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(pushed, data)
    services = app.build(Settings(data_dir=data, test_mode=True))
    out: dict[str, tuple[float, float, dict[str, float]]] = {}
    try:
        worker = services.worker
        worker.service.index.refresh()
        while True:  # the advisory import's delta, then the base image
            worker.dispatch()
            job = worker.run_one()
            if job is None:
                raise RuntimeError("debian-minbase's scan was never queued")
            if getattr(job.job, "repository", None) == "debian-minbase":
                break
        for name in images:
            worker.dispatch()
            cpu.clear()
            wall0, cpu0 = time.perf_counter(), time.process_time()
            job = worker.run_one()
            wall, spent = time.perf_counter() - wall0, time.process_time() - cpu0
            if job is None or getattr(job.job, "repository", None) != name:
                raise RuntimeError(f"expected {name}'s scan, ran {job}")
            phases = dict(cpu)
            phases["catalog"] -= phases.get("read layers", 0.0)  # the rest of cataloguing
            out[name] = (wall, spent, phases)
    finally:
        services.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--images", nargs="*", default=IMAGES)
    args = ap.parse_args()
    if not (CORPUS / "corpus.json").exists() or not VULNDATA.exists():
        print("needs the corpus (make corpus) and ../shared/vulndata")
        return 2
    instrument()
    work = Path(tempfile.mkdtemp(prefix="dockwatch-scan-phases-"))
    runs: dict[str, list[tuple[float, float, dict[str, float]]]] = defaultdict(list)
    try:
        pushed = pushed_folder(work, args.images)
        for rep in range(args.reps):
            for name, got in one_round(pushed, work, args.images).items():
                runs[name].append(got)
            print(f"repetition {rep + 1}/{args.reps} done", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nwarm-base scan in process, medians of {args.reps} (ms; CPU of every thread)")
    print(f"{'image':15} {'wall':>7} {'CPU':>7} " + " ".join(f"{p:>13}" for p in PHASES))
    for name, rows in runs.items():
        wall = statistics.median(r[0] for r in rows) * 1000
        total = statistics.median(r[1] for r in rows) * 1000
        phases = [statistics.median(r[2].get(p, 0.0) for r in rows) * 1000 for p in PHASES]
        print(f"{name:15} {wall:7.0f} {total:7.0f} " + " ".join(f"{v:13.0f}" for v in phases))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
