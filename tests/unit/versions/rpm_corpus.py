"""Real RPM versions from the AlmaLinux OSV data, their mutations, and the rpm oracle.

Shared by tests/unit/versions/test_rpm.py and scripts/gen_versions_rpm.py.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
from collections import defaultdict
from pathlib import Path

ALMA = (
    Path(__file__).resolve().parents[3].parent / "shared/vulndata/almalinux-osv-database/advisories"
)
SYSTEM_PYTHON = "/usr/bin/python3"
_EL = re.compile(r"el(\d+)")
_NUM = re.compile(r"\d+")

#: run under the system Python: rpm.labelCompare on tab-separated pairs from stdin
RPM_ORACLE = r"""
import sys
import rpm

def evr(s):
    epoch = None
    if ":" in s:
        epoch, s = s.split(":", 1)
    version, sep, release = s.rpartition("-")
    if not sep:
        version, release = s, None
    return (epoch, version, release)

out = []
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    r = rpm.labelCompare(evr(a), evr(b))
    out.append("-1" if r < 0 else ("1" if r > 0 else "0"))
sys.stdout.write("\n".join(out) + "\n")
"""


def rpm_oracle_available() -> bool:
    """True when the system Python can import python3-rpm."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import rpm"], capture_output=True)
    return probe.returncode == 0


def label_compare(pairs: list[tuple[str, str]]) -> list[int]:
    """rpm.labelCompare for every pair, in one subprocess."""
    payload = "".join(f"{a}\t{b}\n" for a, b in pairs).encode()
    proc = subprocess.run(
        [SYSTEM_PYTHON, "-c", RPM_ORACLE], input=payload, capture_output=True, check=True
    )
    out = [int(x) for x in proc.stdout.split()]
    assert len(out) == len(pairs)
    return out


def versions_by_package() -> dict[str, list[str]] | None:
    """Every event version per package name (releases 8, 9 and 10 together); None if absent."""
    if not ALMA.is_dir():
        return None
    by_pkg: dict[str, dict[str, None]] = defaultdict(dict)
    for path in sorted(ALMA.glob("*/*.json")):
        record = json.loads(path.read_text())
        for affected in record.get("affected", []):
            name = affected["package"]["name"]
            for rng in affected.get("ranges", []):
                for event in rng["events"]:
                    for value in event.values():
                        if value != "0":
                            by_pkg[name][value] = None
    return {k: list(v) for k, v in by_pkg.items()}


def mutations(v: str, rng: random.Random) -> list[str]:
    """Versions differing from `v` in epoch, `~`, `^`, release suffix, separators or digits."""
    epoch, _, rest = v.rpartition(":")
    ver, _, rel = rest.rpartition("-")
    e = f"{epoch}:" if epoch else ""
    el_update = _EL.sub(lambda m: f"el{m[1]}_{rng.randint(0, 9)}", rel, count=1)
    bumped = _NUM.sub(lambda m: str(int(m[0]) + rng.choice((1, -1, 10))).lstrip("-"), ver, count=1)
    zero_led = _NUM.sub(lambda m: "0" + m[0], rel, count=1)
    out = [
        f"{int(epoch or 0) + 1}:{ver}-{rel}",
        f"{ver}-{rel}" if epoch else f"0:{ver}-{rel}",
        f"{e}{ver}~rc1-{rel}",
        f"{e}{ver}^20240101git1-{rel}",
        f"{e}{ver}-{rel}.1",
        f"{e}{ver}-{rel}_1",
        f"{e}{ver}-{el_update}",
        f"{e}{ver}.0-{rel}",
        f"{e}{ver}a-{rel}",
        f"{e}{ver}_1-{rel}",
        f"{e}{ver.replace('.', '~', 1)}-{rel}",
        f"{e}{ver.replace('.', '^', 1)}-{rel}",
        f"{e}{ver}",  # no release: sorts before every release
        f"{e}{bumped}-{rel}",
        f"{e}{ver}-{zero_led}",  # leading zero
    ]
    return [m for m in out if m != v and "--" not in m and not m.endswith("-")]


def build_pairs(
    by_pkg: dict[str, list[str]], seed: int = 42, random_pairs: int = 10_000
) -> list[tuple[str, str]]:
    """Same-package pairs, each version against 4 of its mutations, and random pairs."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    out.extend(
        (vs[i], vs[j])
        for vs in by_pkg.values()
        for i in range(len(vs))
        for j in range(i + 1, min(len(vs), i + 8))
    )
    all_versions = sorted({v for vs in by_pkg.values() for v in vs})
    for v in all_versions:
        out.extend(
            (v, m) if rng.random() < 0.5 else (m, v) for m in rng.sample(mutations(v, rng), 4)
        )
    out.extend((rng.choice(all_versions), rng.choice(all_versions)) for _ in range(random_pairs))
    return out
