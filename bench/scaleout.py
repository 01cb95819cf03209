"""Scale-out: two API processes on PostgreSQL + S3 against one on the filesystem, and scan
throughput with 1, 2 and 4 workers on PostgreSQL.

Part `registry`: the same generated images (one layer of random bytes each, a few MiB) are
pushed with parallel HTTP clients (monolithic blob uploads, then the manifest) and pulled back
(manifest, then streaming blob GETs) against (a) one `dockwatch serve` on SQLite and its data
folder and (b) two `dockwatch serve --no-worker` on one PostgreSQL database and one bucket of a
moto S3 server (its own process), images spread over both APIs and pulled through the API that
did not receive them. MB/s and images/s for push and pull, the ratio S3/filesystem. moto keeps
objects in memory and answers in Python: per request it is slower than a real S3 endpoint and
it takes CPU from the same cores, so the S3 figures are a floor for this machine.

Part `scan`: one API (`serve --no-worker`) and N `dockwatch worker` processes on PostgreSQL +
S3, ENHANCED scanning. Per N, a fresh set of images (one layer with many Python dist-info
packages, a unique file so every layer is catalogued anew) is pushed under new tags while the
workers are paused (SIGSTOP); then the workers are resumed and timed until they have turned the
push events into scan jobs and done them all: images per second (catalogue + match + write) and
the workers' CPU seconds per image (from /proc). The prediction line divides the cores by the
CPU per image.

    python bench/scaleout.py [--part registry|scan|all] [--reps 2] [--images 8] [--layer-mib 4]
        [--clients 4] [--scan-images 48] [--packages 400] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.builders.layers import Image, make_image, make_layer  # noqa: E402
from tests.support.cli import dockwatch  # noqa: E402
from tests.support.postgres import PostgresCluster, PostgresUnavailable  # noqa: E402
from tests.support.s3 import S3Server  # noqa: E402
from tests.support.servers import (  # noqa: E402
    Server,
    Worker,
    free_port,
    start_dockwatch,
    start_worker,
    wait_http,
)

from bench.procstat import cpu_seconds  # noqa: E402

MB = 1e6
PUSH_TARGET = 0.8  # two APIs on S3 / one API on the filesystem, push MB/s
SCALE_TARGET = 1.6  # scan images/s, 2 workers / 1 worker
START = 300.0


def missing_components() -> str | None:
    """Why the PostgreSQL + S3 parts cannot run here (None: they can)."""
    try:
        from tests.support.postgres import server_bindir

        server_bindir()
    except PostgresUnavailable as exc:
        return str(exc)
    try:
        import moto.server  # noqa: F401
    except ImportError:
        return "moto[server] not installed (pip install -e '.[test]')"
    return None


@contextmanager
def moto_process(work: Path) -> Iterator[tuple[S3Server, int]]:
    """moto's S3 server in a process of its own, so it does not share this one's GIL."""
    port = free_port()
    log = work / "moto.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/", timeout=120, proc=proc)
        yield S3Server(f"http://127.0.0.1:{port}"), proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def cluster_env(pg: PostgresCluster, s3: S3Server) -> dict[str, str]:
    """Settings every process of a scaled-out install shares: a fresh database and bucket."""
    return {
        **s3.env,
        "DOCKWATCH_DATABASE_URL": pg.create_database(),
        "DOCKWATCH_BLOB_URL": f"s3://{s3.new_bucket()}/registry",
    }


def random_images(count: int, layer_bytes: int) -> list[Image]:
    """Images of one layer holding one file of random (incompressible) bytes."""
    return [
        make_image([make_layer({f"opt/blob{i}": os.urandom(layer_bytes)})]) for i in range(count)
    ]


def make_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_bytes(image: Image) -> int:
    return sum(len(b) for b in image.blobs().values())


def push_image(client: httpx.Client, repo: str, tag: str, image: Image) -> None:
    """Monolithic upload of each blob, then the manifest."""
    for digest, data in (
        *((layer.digest, layer.blob) for layer in image.layers),
        (make_digest(image.config), image.config),
    ):
        loc = client.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
        url = str(httpx.URL(loc).copy_merge_params({"digest": digest}))
        r = client.put(url, content=data, headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
    r = client.put(
        f"/v2/{repo}/manifests/{tag}",
        content=image.manifest,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert r.status_code == 201, r.text


def pull_image(client: httpx.Client, repo: str, tag: str, image: Image) -> None:
    """Manifest, then every blob streamed; sizes checked."""
    r = client.get(
        f"/v2/{repo}/manifests/{tag}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert r.status_code == 200 and r.content == image.manifest, r.text
    for layer in image.layers:
        n = 0
        with client.stream("GET", f"/v2/{repo}/blobs/{layer.digest}") as s:
            assert s.status_code == 200, s.status_code
            for chunk in s.iter_raw(1 << 20):
                n += len(chunk)
        assert n == len(layer.blob)
    r = client.get(f"/v2/{repo}/blobs/{make_digest(image.config)}")
    assert r.status_code == 200 and r.content == image.config


def parallel(
    servers: list[Server], images: list[Image], clients: int, action: str, tag: str
) -> float:
    """Wall seconds to push or pull every image with `clients` threads; image i goes to
    servers[i % len], and is pulled from the next server (another process when there are two)."""
    limits = httpx.Limits(max_connections=clients)
    conns = [httpx.Client(base_url=s.url, auth=s.auth, timeout=300, limits=limits) for s in servers]

    def one(i: int) -> None:
        k = i % len(servers) if action == "push" else (i + 1) % len(servers)
        fn = push_image if action == "push" else pull_image
        fn(conns[k], f"bench/img{i}", tag, images[i])

    try:
        with ThreadPoolExecutor(clients) as pool:
            t0 = time.perf_counter()
            list(pool.map(one, range(len(images))))
            return time.perf_counter() - t0
    finally:
        for c in conns:
            c.close()


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):8.1f} [{min(values):.1f}-{max(values):.1f}]"


def part_registry(args: argparse.Namespace, work: Path, pg: PostgresCluster, s3: S3Server) -> int:
    """Part 1: push/pull MB/s and images/s, one API on the filesystem vs two on PG + S3."""
    images = random_images(args.images, int(args.layer_mib * 1024 * 1024))
    total = sum(image_bytes(i) for i in images) / MB
    figures: dict[tuple[str, str], list[float]] = {}
    for rep in range(args.reps):
        env = cluster_env(pg, s3)
        single = start_dockwatch(work / f"fs{rep}", startup_timeout=START)
        pair = [
            start_dockwatch(
                work / f"s3api{rep}-{n}",
                env=env,
                extra_args=("--no-worker",),
                startup_timeout=START,
            )
            for n in (1, 2)
        ]
        try:
            setups = [("1 API, filesystem", [single]), ("2 APIs, PG + S3", pair)]
            for label, servers in setups if rep % 2 == 0 else setups[::-1]:
                for action in ("push", "pull"):
                    wall = parallel(servers, images, args.clients, action, f"r{rep}")
                    figures.setdefault((label, f"{action} MB/s"), []).append(total / wall)
                    figures.setdefault((label, f"{action} img/s"), []).append(len(images) / wall)
        finally:
            for s in [single, *pair]:
                s.stop()
    print(
        f"\n== push/pull: {len(images)} images x {args.layer_mib} MiB, {args.clients} clients, "
        f"{args.reps} reps (median [min-max])"
    )
    metrics = ["push MB/s", "push img/s", "pull MB/s", "pull img/s"]
    print(f"{'':20}" + "".join(f"{m:>24}" for m in metrics))
    for label in ("1 API, filesystem", "2 APIs, PG + S3"):
        print(f"{label:20}" + "".join(f"{spread(figures[(label, m)]):>24}" for m in metrics))
    status = 0
    for m in ("push MB/s", "pull MB/s"):
        ratio = statistics.median(figures[("2 APIs, PG + S3", m)]) / statistics.median(
            figures[("1 API, filesystem", m)]
        )
        line = f"ratio 2xS3/1xFS {m}: {ratio:.2f}"
        if m == "push MB/s":
            ok = ratio >= PUSH_TARGET
            status |= 0 if ok else 1
            line += f"  target >= {PUSH_TARGET} {'MET' if ok else 'MISSED'}"
        print(line)
    print("(S3 is moto's in-memory server on loopback, slower per request than AWS S3 or MinIO)")
    return status


def scan_image(round_: int, index: int, packages: int) -> Image:
    """One layer of `packages` Python dist-info folders plus a file unique to the image."""
    files: dict[str, bytes | str] = {"etc/bench-id": f"{round_}-{index}-{os.urandom(8).hex()}"}
    for p in range(packages):
        name, version = f"benchpkg{p:05d}", "1.0"
        files[f"usr/lib/python3/site-packages/{name}-{version}.dist-info/METADATA"] = (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
    return make_image([make_layer(files)])


def advisories(folder: Path, packages: int) -> Path:
    """OSV records affecting every tenth generated package, so matching writes findings."""
    folder.mkdir(parents=True)
    for p in range(0, packages, 10):
        record = {
            "id": f"PYSEC-BENCH-{p}",
            "modified": "2026-11-01T00:00:00Z",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": f"benchpkg{p:05d}"},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}
                    ],
                }
            ],
        }
        (folder / f"{record['id']}.json").write_text(json.dumps(record))
    return folder


def scan_jobs(database_url: str) -> dict[str, int]:
    """Count of scan jobs per state, from the shared database."""
    import psycopg

    dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT state, count(*) FROM jobs WHERE kind = 'scan' GROUP BY state"
        ).fetchall()
    return {str(s): int(n) for s, n in rows}


def wait_done(database_url: str, done: int, timeout: float, what: str) -> None:
    """Poll until `done` scan jobs are done."""
    deadline = time.monotonic() + timeout
    while scan_jobs(database_url).get("done", 0) < done:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not done in {timeout}s")
        time.sleep(0.05)


def part_scan(
    args: argparse.Namespace, work: Path, pg: PostgresCluster, s3: S3Server, moto_pid: int
) -> int:
    """Part 2: images/s and CPU s/image with 1, 2, 4 workers."""
    env = cluster_env(pg, s3)
    url = env["DOCKWATCH_DATABASE_URL"]
    folder = advisories(work / "advisories", args.packages)
    out = dockwatch("db", "import", "--data", str(work / "importer"), str(folder), env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    api = start_dockwatch(
        work / "scan-api", env=env, extra_args=("--no-worker",), startup_timeout=START
    )
    rows: list[tuple[int, float, float, float, float]] = []
    postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])

    def others() -> float:
        """CPU seconds of the API, moto and PostgreSQL (backends still running)."""
        return sum(cpu_seconds(pid) for pid in (api.proc.pid, moto_pid, postmaster))

    try:
        with api.client() as c:
            config = {"scanType": "ENHANCED", "rules": []}
            r = c.put("/api/v1/registry/scanning-configuration", json=config)
            assert r.status_code == 200, r.text
        for round_, n in enumerate(args.workers):
            images = [scan_image(round_, i, args.packages) for i in range(args.scan_images)]
            workers: list[Worker] = [
                start_worker(work / f"w{round_}-{k}", env=env) for k in range(n)
            ]
            try:
                for w in workers:
                    os.kill(w.proc.pid, signal.SIGSTOP)
                with api.client(timeout=300) as c:
                    for i, image in enumerate(images):
                        push_image(c, f"scan/app{i}", f"round{round_}", image)
                # the workers turn the push events into scan jobs: timed from here
                expected = scan_jobs(url).get("done", 0) + len(images)
                cpu0 = sum(cpu_seconds(w.proc.pid) for w in workers)
                rest0 = others()
                t0 = time.perf_counter()
                for w in workers:
                    os.kill(w.proc.pid, signal.SIGCONT)
                wait_done(url, expected, args.timeout, f"{len(images)} scans, {n} workers")
                wall = time.perf_counter() - t0
                cpu = sum(cpu_seconds(w.proc.pid) for w in workers) - cpu0
                rest = others() - rest0
                states = scan_jobs(url)
                if sum(states.values()) != states.get("done", 0):
                    print(f"warning: scan jobs not all done: {states}")
                rows.append((n, len(images) / wall, cpu / len(images), rest / len(images), wall))
            finally:
                for w in workers:
                    if w.proc.poll() is None:
                        os.kill(w.proc.pid, signal.SIGCONT)
                    w.stop()
    finally:
        api.stop()
    cores = os.cpu_count() or 1
    print(
        f"\n== scan throughput on PostgreSQL + S3: {args.scan_images} images x "
        f"{args.packages} packages per round, {cores} cores"
    )
    print(
        f"{'workers':>8} {'images/s':>10} {'CPU s/image':>12} {'other CPU s/img':>16} "
        f"{'wall s':>8} {'x 1 worker':>11}"
    )
    base = rows[0][1]
    for n, rate, cpu_img, rest_img, wall in rows:
        print(
            f"{n:>8} {rate:>10.2f} {cpu_img:>12.3f} {rest_img:>16.3f} {wall:>8.1f} "
            f"{rate / base:>11.2f}"
        )
    print("(CPU s/image: the workers; other: the API, moto and PostgreSQL in the same window)")
    cpu_img = statistics.median(r[2] for r in rows)
    print(
        f"prediction from CPU per image ({cpu_img:.3f} s): about {1 / cpu_img:.2f} images/s per "
        f"busy core, near-linear until the cores run out ({cores / cpu_img:.2f} images/s on "
        f"{cores} cores, {16 / cpu_img:.1f} on 16), the database and S3 permitting"
    )
    two = [r for r in rows if r[0] == 2]
    if not two:
        return 0
    ratio = two[0][1] / base
    ok = ratio >= SCALE_TARGET
    print(
        f"2 workers / 1 worker: {ratio:.2f}  target >= {SCALE_TARGET} {'MET' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--part", choices=["registry", "scan", "all"], default="all")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--images", type=int, default=8, help="images pushed and pulled per rep")
    ap.add_argument("--layer-mib", type=float, default=4.0)
    ap.add_argument("--clients", type=int, default=4, help="parallel HTTP clients")
    ap.add_argument(
        "--scan-images",
        type=int,
        default=48,
        help="images per scan round (with 12, a round lasted about 1.5 s, a fifth of it the"
        " workers' start after SIGCONT, and 2 workers measured 1.40-1.48x one)",
    )
    ap.add_argument("--packages", type=int, default=400, help="dist-info packages per image")
    ap.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4])
    ap.add_argument("--timeout", type=float, default=600, help="seconds per scan round")
    args = ap.parse_args()
    why = missing_components()
    if why is not None:
        print(f"skipped: every part needs PostgreSQL and moto: {why}")
        return 0
    print(f"load average at start: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    work = Path(tempfile.mkdtemp(prefix="dockwatch-scaleout-"))
    atexit.register(shutil.rmtree, work, True)  # data folders of every round: GBs
    pg = PostgresCluster.start()
    status = 0
    try:
        with moto_process(work) as (s3, moto_pid):
            if args.part in ("registry", "all"):
                status |= part_registry(args, work, pg, s3)
            if args.part in ("scan", "all"):
                status |= part_scan(args, work, pg, s3, moto_pid)
    finally:
        pg.stop()
    print(f"load average at end: {os.getloadavg()[0]:.2f} (1 min)")
    return status


if __name__ == "__main__":
    sys.exit(main())
