"""Real-sized generated feeds parse completely under an address-space cap.

Each parse runs in a subprocess with RLIMIT_AS set, so a parser that loads more than it should
fails here instead of on a production box. The caps are about twice what the parsers use today.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.builders import feeds as b

CHILD = r"""
import collections, json, resource, sys
from pathlib import Path
cap = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
kind, path = sys.argv[1], Path(sys.argv[2])
from dockwatch.feeds import alpine, debian, epss, nvd, osv
if kind == "debian":
    items = debian.parse_file(str(path))
elif kind == "alpine":
    items = alpine.parse_files([(p, "") for p in sorted(path.glob("*.json"))])
elif kind == "osv":
    items = osv.iter_path(path, "osv:npm")
elif kind == "nvd":
    items = (x for p in sorted(path.glob("*.json")) for x in nvd.parse_file(p))
else:
    items = epss.parse_file(path)
print(json.dumps(collections.Counter(type(x).__name__ for x in items)))
"""

MiB = 1 << 20


def _run(kind: str, path: Path, cap: int) -> dict[str, int]:
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(path), str(cap)],
        capture_output=True, text=True, timeout=600, cwd=root,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    counts: dict[str, int] = json.loads(proc.stdout)
    return counts


pytestmark = pytest.mark.slow


def test_debian_tracker(tmp_path: Path) -> None:
    # ~60,000 (package, CVE) pairs in 5 releases: about the size of the real tracker JSON
    path = tmp_path / "debian.json"
    path.write_bytes(orjson.dumps(b.generated_debian(packages=5000, cves_per_package=12)))
    assert path.stat().st_size > 40 * MiB
    assert _run("debian", path, 1536 * MiB) == {"Advisory": 60000}


def test_alpine_secdb(tmp_path: Path) -> None:
    for branch in ("v3.20", "v3.21", "v3.22", "v3.23"):
        (tmp_path / f"{branch}-main.json").write_bytes(b.generated_alpine(branch, "main", 1500))
        (tmp_path / f"{branch}-community.json").write_bytes(
            b.generated_alpine(branch, "community", 2500, seed=8)
        )
    counts = _run("alpine", tmp_path, 1024 * MiB)
    assert set(counts) == {"Advisory"} and counts["Advisory"] > 30000


def test_ghsa_all_zip(tmp_path: Path) -> None:
    path = b.osv_zip(tmp_path / "all.zip", b.generated_ghsa(20000))
    assert _run("osv", path, 512 * MiB) == {"Advisory": 20000}


def test_nvd_pages(tmp_path: Path) -> None:
    items = b.generated_nvd(6000)
    for start in range(0, 6000, 2000):
        page = b.nvd_page(items[start : start + 2000], start, 6000, 2000)
        (tmp_path / f"page-{start:09d}.json").write_bytes(orjson.dumps(page))
    assert _run("nvd", tmp_path, 512 * MiB) == {"NvdCvss": 6000}


def test_epss_scores(tmp_path: Path) -> None:
    path = tmp_path / "epss.csv.gz"
    path.write_bytes(b.epss_csv(b.generated_epss(300_000)))
    assert _run("epss", path, 512 * MiB) == {"EpssScore": 300_000}


def test_the_cap_is_real(tmp_path: Path) -> None:
    """A cap below what the Debian parse needs makes the child fail (so the caps above bind)."""
    path = tmp_path / "debian.json"
    path.write_bytes(orjson.dumps(b.generated_debian(packages=2000, cves_per_package=12)))
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, "debian", str(path), str(120 * MiB)],
        capture_output=True, text=True, timeout=600, cwd=root,
    )  # fmt: skip
    assert proc.returncode != 0 and "memory" in proc.stderr.lower()
