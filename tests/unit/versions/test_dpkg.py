"""dpkg ordering checked against Debian's own implementations on real archive versions.

Oracles: `apt_pkg.version_compare` from python3-apt, run under the system Python in a single
subprocess (all pairs through stdin/stdout), and `dpkg --compare-versions` on a sample.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess

import pytest

from dockwatch.versions.dpkg import DpkgScheme
from dockwatch.versions.scheme import InvalidVersion
from tests.unit.versions.debian_corpus import Corpus, build_pairs, load_corpus

SYSTEM_PYTHON = "/usr/bin/python3"
TOTAL_PAIRS = 120_000
DPKG_SAMPLE = 1_000

_APT_ORACLE = r"""
import sys
import apt_pkg
apt_pkg.init_system()
out = []
for line in sys.stdin.buffer:
    a, b = line.rstrip(b"\n").split(b"\t")
    r = apt_pkg.version_compare(a.decode(), b.decode())
    out.append("-1" if r < 0 else ("1" if r > 0 else "0"))
sys.stdout.write("\n".join(out) + "\n")
"""


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    loaded = load_corpus()
    if loaded is None:
        pytest.skip("no apt package lists on this machine (run `apt-get update`)")
    return loaded


@pytest.fixture(scope="module")
def pairs(corpus: Corpus) -> list[tuple[str, str]]:
    built, hard = build_pairs(corpus, TOTAL_PAIRS)
    assert len(built) >= 100_000
    assert hard * 2 >= len(built), f"only {hard} of {len(built)} pairs are same-package/mutations"
    return built


def _apt_available() -> bool:
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import apt_pkg"], capture_output=True)
    return probe.returncode == 0


def test_every_archive_version_parses(corpus: Corpus) -> None:
    scheme = DpkgScheme()
    rejected = []
    for v in corpus.all_versions:
        try:
            scheme.key(v)
        except InvalidVersion as e:
            rejected.append(str(e))
    assert len(corpus.all_versions) > 10_000
    assert rejected == []


@pytest.mark.slow
def test_agrees_with_apt_pkg(pairs: list[tuple[str, str]]) -> None:
    if not _apt_available():
        pytest.skip("python3-apt is not installed for the system Python (deps/apt-packages.txt)")
    payload = "".join(f"{a}\t{b}\n" for a, b in pairs).encode()
    proc = subprocess.run(
        [SYSTEM_PYTHON, "-c", _APT_ORACLE], input=payload, capture_output=True, check=True
    )
    expected = [int(x) for x in proc.stdout.split()]
    assert len(expected) == len(pairs)
    scheme = DpkgScheme()
    mismatches = [
        (a, b, want, got)
        for (a, b), want in zip(pairs, expected, strict=True)
        if (got := scheme.compare(a, b)) != want
    ]
    assert mismatches[:20] == [], f"{len(mismatches)} of {len(pairs)} pairs disagree with apt_pkg"


@pytest.mark.slow
def test_agrees_with_dpkg_compare_versions(pairs: list[tuple[str, str]]) -> None:
    if shutil.which("dpkg") is None:
        pytest.skip("dpkg is not installed")
    sample = random.Random(7).sample(pairs, DPKG_SAMPLE)
    # one shell runs all comparisons; dpkg exits 0 when the relation holds
    script = (
        'while IFS="$(printf "\\t")" read -r a b; do '
        'if dpkg --compare-versions "$a" lt "$b"; then echo -1; '
        'elif dpkg --compare-versions "$a" eq "$b"; then echo 0; else echo 1; fi; done'
    )
    payload = "".join(f"{a}\t{b}\n" for a, b in sample).encode()
    proc = subprocess.run(["sh", "-c", script], input=payload, capture_output=True, check=True)
    expected = [int(x) for x in proc.stdout.split()]
    assert len(expected) == len(sample)
    scheme = DpkgScheme()
    mismatches = [
        (a, b, want, got)
        for (a, b), want in zip(sample, expected, strict=True)
        if (got := scheme.compare(a, b)) != want
    ]
    assert mismatches == []


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        ("", "empty"),
        ("a:1.0", "not number"),
        (":1.0", "epoch in version is empty"),
        ("1:", "nothing after colon"),
        ("1.0-", "revision number is empty"),
        ("-1", "upstream version is empty"),
        ("1.0 beta", "embedded spaces"),
        ("1.0_1", "invalid character in version"),
        ("1.0-1_2", "invalid character in revision"),
        ("99999999999:1.0", "too big"),
        ("1" * 600, "longer than"),
    ],
)
def test_rejects_what_dpkg_rejects(version: str, reason: str) -> None:
    with pytest.raises(InvalidVersion, match=reason):
        DpkgScheme().key(version)


def test_split_matches_parseversion() -> None:
    scheme = DpkgScheme()
    assert scheme.split("1:2.30-1+b1") == (1, "2.30", "1+b1")
    assert scheme.split("2.30-rc1-1") == (0, "2.30-rc1", "1")
    assert scheme.split("1.0") == (0, "1.0", "")
    assert scheme.split(" 1.0 ") == (0, "1.0", "")


def test_ground_truth_files_agree_with_apt_pkg() -> None:
    """The hand-written dpkg.txt is itself checked against Debian's implementation."""
    if not _apt_available():
        pytest.skip("python3-apt is not installed for the system Python (deps/apt-packages.txt)")
    from tests.unit.versions.datafiles import DATA, read

    relations = [
        r for name in ("dpkg.txt", "dpkg-generated.txt") for r in read(DATA / name).relations
    ]
    payload = "".join(f"{r.a}\t{r.b}\n" for r in relations).encode()
    proc = subprocess.run(
        [SYSTEM_PYTHON, "-c", _APT_ORACLE], input=payload, capture_output=True, check=True
    )
    got = [int(x) for x in proc.stdout.split()]
    wrong = [
        f"{r.path}:{r.line}: {r.a} vs {r.b}"
        for r, g in zip(relations, got, strict=True)
        if g != r.expected
    ]
    assert wrong == []
