"""Registry throughput: dockwatch against CNCF distribution 2.8, same machine, same run.

Each repetition starts both servers on empty storage on 127.0.0.1 (order alternating) and
measures, per server: skopeo push and pull of the 200 MB single-layer image and of the corpus; a
client that is not the bottleneck (parallel httpx uploads of pre-hashed blobs, parallel GETs);
20 concurrent pushes; the server's CPU use. Then the peak RSS of each server process tree while
a 1 GB layer streams in and out. Medians of the repetitions with [min-max], the ratio to
distribution, and MET or MISSED for each target.

    python bench/registry.py [--reps 5] [--corpus /var/tmp/dockwatch-corpus]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.programs import PROGRAMS  # noqa: E402
from tests.support.servers import Server, start_distribution, start_dockwatch  # noqa: E402

from bench.procstat import PeakRss, cpu_seconds  # noqa: E402

MB = 1e6
CORPUS_IMAGES = [
    "debian-minbase",
    "debian-python",
    "debian-node",
    "debian-java",
    "debian-go",
    "distroless-debian",
    "rpmdb-alien",
]
TARGETS = {  # metric -> minimum ratio dockwatch/distribution
    "skopeo push 200MB": 1.0,
    "skopeo pull 200MB": 1.2,
    "skopeo push corpus": 1.0,
    "skopeo pull corpus": 1.2,
    "raw push 8x32MB": 1.0,
    "raw pull 8x32MB": 1.2,
}
RSS_LIMIT = 150 * 1024 * 1024


@dataclass
class Results:
    """MB/s (or images/s) per metric per server, one value per repetition."""

    values: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    cpu: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def add(self, metric: str, kind: str, value: float, cpu_pct: float | None = None) -> None:
        self.values.setdefault((metric, kind), []).append(value)
        if cpu_pct is not None:
            self.cpu.setdefault((metric, kind), []).append(cpu_pct)


def layout_bytes(layout: Path) -> int:
    """Sum of the sizes of every blob of an OCI layout."""
    return sum(f.stat().st_size for f in (layout / "blobs" / "sha256").iterdir())


def skopeo(args: list[str], home: Path) -> None:
    """Run skopeo as `nobody` with a fresh HOME, so no blob-info cache turns uploads into mounts."""
    if home.exists():
        shutil.rmtree(home)
    (home / "run").mkdir(parents=True)
    cmd = ["skopeo", "--insecure-policy", *args]
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "TMPDIR": str(home),
    }
    if os.geteuid() == 0:
        shutil.chown(home, "nobody", "nogroup")
        shutil.chown(home / "run", "nobody", "nogroup")
        cmd = ["runuser", "-u", "nobody", "--", "env", *(f"{k}={v}" for k, v in env.items()), *cmd]
    subprocess.run(cmd, check=True, capture_output=True, env=env if os.geteuid() != 0 else None)


def creds(server: Server, flag: str) -> list[str]:
    return [] if server.auth is None else [flag, f"{server.auth[0]}:{server.auth[1]}"]


def timed(fn: Callable[[], object], server: Server) -> tuple[float, float]:
    """(wall seconds, server CPU % of one core) of `fn`."""
    cpu0 = cpu_seconds(server.proc.pid)
    t0 = time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    return wall, 100.0 * (cpu_seconds(server.proc.pid) - cpu0) / wall


def skopeo_push_pull(
    server: Server, layouts: list[Path], work: Path, res: Results, label: str
) -> None:
    total = sum(layout_bytes(p) for p in layouts)

    def push() -> None:
        for p in layouts:
            skopeo(
                [
                    "copy",
                    "--dest-tls-verify=false",
                    *creds(server, "--dest-creds"),
                    f"oci:{p}:latest",
                    f"docker://{server.host}/bench/{p.name}:latest",
                ],
                work / "home",
            )

    def pull() -> None:
        for p in layouts:
            out = work / "pulled" / p.name
            shutil.rmtree(out, ignore_errors=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(out.parent, "nobody", "nogroup")
            skopeo(
                [
                    "copy",
                    "--src-tls-verify=false",
                    *creds(server, "--src-creds"),
                    f"docker://{server.host}/bench/{p.name}:latest",
                    f"oci:{out}:latest",
                ],
                work / "home",
            )

    wall, cpu = timed(push, server)
    res.add(f"skopeo push {label}", server.kind, total / MB / wall, cpu)
    wall, cpu = timed(pull, server)
    res.add(f"skopeo pull {label}", server.kind, total / MB / wall, cpu)


def with_digest(location: str, digest: str) -> str:
    return str(httpx.URL(location).copy_merge_params({"digest": digest}))


def raw_push_pull(server: Server, blobs: list[tuple[str, bytes]], res: Results) -> None:
    """Parallel monolithic uploads of pre-hashed blobs, then parallel streaming GETs."""
    total = sum(len(b) for _, b in blobs)
    limits = httpx.Limits(max_connections=len(blobs))

    def up(client: httpx.Client, i: int, digest: str, data: bytes) -> None:
        loc = client.post(f"/v2/bench/raw{i}/blobs/uploads/").headers["location"]
        r = client.put(
            with_digest(loc, digest),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 201, r.text

    def down(client: httpx.Client, i: int, digest: str) -> None:
        n = 0
        with client.stream("GET", f"/v2/bench/raw{i}/blobs/{digest}") as r:
            assert r.status_code == 200
            for chunk in r.iter_raw(1 << 20):
                n += len(chunk)
        assert n == len(blobs[i][1])

    with (
        httpx.Client(base_url=server.url, auth=server.auth, timeout=120, limits=limits) as client,
        ThreadPoolExecutor(len(blobs)) as pool,
    ):
        wall, cpu = timed(
            lambda: list(pool.map(lambda a: up(client, a[0], *a[1]), enumerate(blobs))), server
        )
        res.add(
            f"raw push {len(blobs)}x{len(blobs[0][1]) // 1_000_000}MB",
            server.kind,
            total / MB / wall,
            cpu,
        )
        wall, cpu = timed(
            lambda: list(pool.map(lambda a: down(client, a[0], a[1][0]), enumerate(blobs))), server
        )
        res.add(
            f"raw pull {len(blobs)}x{len(blobs[0][1]) // 1_000_000}MB",
            server.kind,
            total / MB / wall,
            cpu,
        )


def concurrent_pushes(server: Server, res: Results, n: int = 20) -> None:
    """n clients each push a 2-layer image (2 x 2 MB) at once; images per second."""
    from tests.conformance.oci import DOCKER_V2, config_blob, image_manifest, sha256

    rng = random.Random(7)
    images = []
    for i in range(n):
        config = config_blob(f"c{i}-{rng.random()}")
        layers = [rng.randbytes(2_000_000) for _ in range(2)]
        images.append((config, layers))

    def push(i: int) -> None:
        config, layers = images[i]
        with httpx.Client(base_url=server.url, auth=server.auth, timeout=120) as c:
            for blob in (config, *layers):
                loc = c.post(f"/v2/bench/concurrent{i}/blobs/uploads/").headers["location"]
                assert c.put(with_digest(loc, sha256(blob)), content=blob).status_code == 201
            m = image_manifest(config, layers)
            assert (
                c.put(
                    f"/v2/bench/concurrent{i}/manifests/latest",
                    content=m,
                    headers={"Content-Type": DOCKER_V2},
                ).status_code
                == 201
            )

    with ThreadPoolExecutor(n) as pool:
        wall, cpu = timed(lambda: list(pool.map(push, range(n))), server)
    res.add("20 concurrent pushes (images/s)", server.kind, n / wall, cpu)


def big_layer_rss(server: Server, size: int) -> tuple[int, int, float, float]:
    """Peak RSS of the server tree while a `size`-byte layer is pushed, then pulled."""
    chunk = 1 << 20
    seed = random.Random(11).randbytes(chunk)

    def body() -> Iterator[bytes]:
        for i in range(size // chunk):
            yield seed[: chunk - 8] + i.to_bytes(8, "big")

    h = hashlib.sha256()
    for part in body():
        h.update(part)
    digest = f"sha256:{h.hexdigest()}"
    with httpx.Client(base_url=server.url, auth=server.auth, timeout=600) as c:
        loc = c.post("/v2/bench/big/blobs/uploads/").headers["location"]
        with PeakRss(server.proc.pid) as push_peak:
            t0 = time.perf_counter()
            r = c.put(
                with_digest(loc, digest),
                content=body(),
                headers={"Content-Type": "application/octet-stream"},
            )
            push_wall = time.perf_counter() - t0
        assert r.status_code == 201, r.text
        with PeakRss(server.proc.pid) as pull_peak:
            t0 = time.perf_counter()
            with c.stream("GET", f"/v2/bench/big/blobs/{digest}") as resp:
                n = sum(len(x) for x in resp.iter_raw(1 << 20))
            pull_wall = time.perf_counter() - t0
        assert n == size
    return push_peak.peak, pull_peak.peak, size / MB / push_wall, size / MB / pull_wall


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):8.1f} [{min(values):.1f}-{max(values):.1f}]"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument(
        "--corpus",
        type=Path,
        default=Path(os.environ.get("DOCKWATCH_CORPUS", "/var/tmp/dockwatch-corpus")),
    )
    ap.add_argument(
        "--big-mb", type=int, default=1024, help="size of the layer streamed for the RSS check"
    )
    args = ap.parse_args()
    for program in ("skopeo", "docker-registry", "runuser"):
        if shutil.which(program) is None:
            print(
                f"missing {program} (Debian package {PROGRAMS.get(program, '?')}); run `make test` once as root"
            )
            return 2
    random_layout = args.corpus / "random-200m"
    if not random_layout.exists():
        print(
            f"corpus with random-200m not found at {args.corpus}: run `RANDOM_MB=200 make corpus`"
        )
        return 2
    corpus = [args.corpus / n for n in CORPUS_IMAGES]
    rng = random.Random(3)
    raw_blobs = []
    for _ in range(8):
        blob = rng.randbytes(32_000_000)
        raw_blobs.append((f"sha256:{hashlib.sha256(blob).hexdigest()}", blob))

    for layout in [random_layout, *corpus]:  # warm the page cache: no server pays for a cold read
        for blob in (layout / "blobs" / "sha256").iterdir():
            blob.read_bytes()
    res = Results()
    work = Path(tempfile.mkdtemp(prefix="dockwatch-bench-"))
    os.chmod(work, 0o755)
    try:
        for rep in range(args.reps):
            order = ["dockwatch", "distribution"] if rep % 2 == 0 else ["distribution", "dockwatch"]
            for kind in order:
                folder = work / f"{kind}-{rep}"
                server = (
                    start_dockwatch(folder / "data")
                    if kind == "dockwatch"
                    else start_distribution(folder)
                )
                try:
                    skopeo_push_pull(server, [random_layout], folder, res, "200MB")
                    skopeo_push_pull(server, corpus, folder, res, "corpus")
                    raw_push_pull(server, raw_blobs, res)
                    concurrent_pushes(server, res)
                finally:
                    server.stop()
                    shutil.rmtree(folder, ignore_errors=True)
            print(f"repetition {rep + 1}/{args.reps} done", file=sys.stderr)

        rss: dict[str, tuple[int, int, float, float]] = {}
        for kind in ("dockwatch", "distribution"):
            folder = work / f"{kind}-big"
            server = (
                start_dockwatch(folder / "data")
                if kind == "dockwatch"
                else start_distribution(folder)
            )
            try:
                rss[kind] = big_layer_rss(server, args.big_mb * 1024 * 1024)
            finally:
                server.stop()
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\nregistry benchmark, {args.reps} repetitions, median [min-max]; MB/s unless noted; CPU % of one core (server)"
    )
    print(
        f"{'metric':34} {'dockwatch':>22} {'distribution':>22} {'ratio':>6}  {'cpu dw/ds':>11}  target"
    )
    metrics = sorted(
        {m for m, _ in res.values}, key=lambda m: list(TARGETS).index(m) if m in TARGETS else 99
    )
    for metric in metrics:
        dw, ds = res.values[(metric, "dockwatch")], res.values[(metric, "distribution")]
        ratio = statistics.median(dw) / statistics.median(ds)
        cpu = f"{statistics.median(res.cpu[(metric, 'dockwatch')]):4.0f}/{statistics.median(res.cpu[(metric, 'distribution')]):<4.0f}"
        target = TARGETS.get(metric)
        verdict = (
            "" if target is None else f">= {target:.1f}x {'MET' if ratio >= target else 'MISSED'}"
        )
        print(f"{metric:34} {fmt(dw):>22} {fmt(ds):>22} {ratio:5.2f}x  {cpu:>11}  {verdict}")
    print(f"\n{args.big_mb} MiB layer streamed through one server:")
    for kind, (push_peak, pull_peak, push_mbs, pull_mbs) in rss.items():
        print(
            f"  {kind:12} peak RSS push {push_peak / 2**20:6.1f} MiB, pull {pull_peak / 2**20:6.1f} MiB; push {push_mbs:.0f} MB/s, pull {pull_mbs:.0f} MB/s"
        )
    peak = max(rss["dockwatch"][0], rss["dockwatch"][1])
    print(
        f"  target: dockwatch process tree < 150 MB RSS while it streams: {peak / 1e6:.0f} MB {'MET' if peak < RSS_LIMIT else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
