"""Real Debian version strings from apt's package lists, and comparison pairs built from them.

Shared by the dpkg oracle test and `scripts/gen_versions_dpkg.py`. The pairs are seeded, so a
failure reproduces; more than half are "hard" pairs: two versions of the same package, or a
version and a mutation of it that differs only in epoch, `~`, `+`, revision or binNMU suffix.
"""

from __future__ import annotations

import glob
import random
import re
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass

APT_LISTS = "/var/lib/apt/lists"
APT_HELPER = "/usr/lib/apt/apt-helper"
_SOURCE = re.compile(rb"Source: (\S+)(?: \((\S+)\))?")


@dataclass(frozen=True, slots=True)
class Corpus:
    """Versions per package name (binary and source names), deduplicated, in file order."""

    by_package: dict[str, list[str]]
    files: tuple[str, ...]

    @property
    def all_versions(self) -> list[str]:
        """Every distinct version string."""
        return sorted({v for vs in self.by_package.values() for v in vs})


def package_lists() -> list[str]:
    """apt's `Packages` indexes on this machine (any compression apt-helper understands)."""
    return sorted(p for p in glob.glob(f"{APT_LISTS}/*_Packages*") if not p.endswith(".diff_Index"))


def load_corpus() -> Corpus | None:
    """Read every package list through `apt-helper cat-file`; None when there are none."""
    files = package_lists()
    if not files or shutil.which(APT_HELPER) is None and not _exists(APT_HELPER):
        return None
    by_package: dict[str, dict[str, None]] = defaultdict(dict)
    for path in files:
        out = subprocess.run([APT_HELPER, "cat-file", path], capture_output=True, check=True).stdout
        name = b""
        source: tuple[bytes, bytes | None] | None = None
        for line in out.split(b"\n"):
            if line.startswith(b"Package: "):
                name, source = line[9:].strip(), None
            elif line.startswith(b"Source: "):
                m = _SOURCE.match(line)
                if m:
                    source = (m[1], m[2])
            elif line.startswith(b"Version: "):
                version = line[9:].strip().decode()
                by_package[name.decode()][version] = None
                if source is not None:
                    src_name, src_version = source
                    by_package["src:" + src_name.decode()][
                        src_version.decode() if src_version else version
                    ] = None
    return Corpus({k: list(v) for k, v in by_package.items()}, tuple(files))


def _exists(path: str) -> bool:
    import os

    return os.access(path, os.X_OK)


_EPOCH = re.compile(r"^(\d+):")


def split(version: str) -> tuple[str, str, str]:
    """(epoch-with-colon or "", upstream, revision-with-hyphen or "")."""
    epoch = ""
    m = _EPOCH.match(version)
    if m:
        epoch, version = m[0], version[m.end() :]
    up, sep, rev = version.rpartition("-")
    if not sep:
        return epoch, version, ""
    return epoch, up, "-" + rev


def mutations(version: str, rng: random.Random) -> list[str]:
    """Versions differing from `version` only in epoch, `~`, `+`, revision or binNMU suffix."""
    epoch, up, rev = split(version)
    out: list[str] = []
    # epoch: drop, add, bump
    if epoch:
        out.append(up + rev)
        out.append(f"{int(epoch[:-1]) + rng.choice((1, 2, 10))}:{up}{rev}")
    else:
        out.append(f"{rng.choice((1, 2))}:{up}{rev}")
        out.append(f"0:{up}{rev}")
    # tilde: pre-release suffixes, and a tilde replacing a dot
    out.append(f"{epoch}{up}~{rng.choice(('rc1', 'beta2', 'a', '1', ''))}{rev}")
    if "." in up:
        i = rng.choice([i for i, c in enumerate(up) if c == "."])
        out.append(f"{epoch}{up[:i]}~{up[i + 1 :]}{rev}")
    if rev:
        out.append(f"{epoch}{up}{rev}~bpo12+1")
        out.append(f"{epoch}{up}{rev[:-1]}~{rev[-1]}" if len(rev) > 2 else f"{epoch}{up}{rev}~")
    # plus: repacks, stable updates, and a plus replacing a dot
    out.append(f"{epoch}{up}+{rng.choice(('dfsg', 'ds1', 'really1.0', 'git20240101', '1'))}{rev}")
    if rev:
        out.append(f"{epoch}{up}{rev}+deb{rng.choice((11, 12, 13))}u{rng.randint(1, 9)}")
    if "." in up:
        i = up.index(".")
        out.append(f"{epoch}{up[:i]}+{up[i + 1 :]}{rev}")
    # revision: drop, add, change digits, add a dot-revision
    if rev:
        out.append(epoch + up)
        digits = re.sub(
            r"\d+", lambda m: str(int(m[0]) + rng.choice((-1, 1, 9))).lstrip("-"), rev, count=1
        )
        out.append(epoch + up + digits)
        out.append(f"{epoch}{up}{rev}.{rng.randint(0, 3)}")
        out.append(f"{epoch}{up}-0")
    else:
        out.append(f"{epoch}{up}-{rng.randint(0, 3)}")
        out.append(f"{epoch}{up}-0")
    # binNMU
    base = version if rev else f"{epoch}{up}-1"
    out.append(f"{base}+b{rng.randint(1, 12)}")
    out.append(f"{base}+b{rng.randint(1, 12)}+b1")
    return [m for m in out if m != version and _plausible(m)]


_VALID = re.compile(r"(\d+:)?[0-9A-Za-z.+~:-]+(-[0-9A-Za-z.+~]+)?")


def _plausible(version: str) -> bool:
    epoch, up, rev = split(version)
    return bool(up) and up[0].isdigit() and _VALID.fullmatch(version) is not None and rev != "-"


def build_pairs(
    corpus: Corpus, total: int, seed: int = 20261126
) -> tuple[list[tuple[str, str]], int]:
    """`total` pairs; returns (pairs, how many are same-package or mutation pairs)."""
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    multi = [vs for vs in corpus.by_package.values() if len(vs) > 1]
    pairs.extend(  # pairs of versions of one package (bounded per package)
        (vs[i], vs[j])
        for vs in multi
        for i in range(len(vs))
        for j in range(i + 1, min(len(vs), i + 6))
    )
    versions = corpus.all_versions
    hard_target = total * 6 // 10
    while len(pairs) < hard_target:
        v = rng.choice(versions)
        muts = mutations(v, rng)
        pairs.extend(
            (v, m) if rng.random() < 0.5 else (m, v) for m in rng.sample(muts, min(3, len(muts)))
        )
        if len(muts) >= 2 and rng.random() < 0.3:
            a, b = rng.sample(muts, 2)
            pairs.append((a, b))
    hard = len(pairs)
    ordered = sorted(versions)
    while len(pairs) < total:
        if rng.random() < 0.5:
            pairs.append((rng.choice(versions), rng.choice(versions)))
        else:  # lexical neighbours share prefixes, which makes for closer comparisons
            i = rng.randrange(len(ordered) - 1)
            pairs.append((ordered[i], ordered[i + 1]))
    rng.shuffle(pairs)
    return pairs, hard
