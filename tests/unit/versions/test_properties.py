"""Properties every scheme must have: a total order (antisymmetric, transitive) and a coarse key
that never decreases along it (`a <= b` implies `coarse(a) <= coarse(b)`), on generated
versions, on the ground-truth files' versions, and on the real version corpora on this machine.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dockwatch.versions.scheme import InvalidVersion, VersionScheme, scheme_for
from tests.unit.versions.datafiles import all_files

VULNDATA = Path(__file__).resolve().parents[3].parent / "shared" / "vulndata"

#: per ecosystem, a regex of plausible versions (hypothesis generates matches; invalid ones are
#: discarded by the scheme itself)
GRAMMARS = {
    "Debian": r"([0-9]{1,2}:)?[0-9]{1,3}([.+~a-zA-Z][0-9a-z]{0,3}){0,4}(-[0-9a-z][.+~0-9a-z]{0,5})?",
    "AlmaLinux": r"([0-9]:)?[0-9a-z]{1,3}([._+~^][0-9a-z]{0,3}){0,4}(-[0-9a-z][._+~^0-9a-z]{0,6})?",
    "Alpine": r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]{0,3}){0,2}(~[0-9a-f]{1,4})?(-r[0-9]{1,2})?",
    "PyPI": r"([0-9]!)?[0-9]{1,3}(\.[0-9]{1,3}){0,3}((a|b|rc)[0-9]{1,2})?(\.post[0-9]{1,2})?(\.dev[0-9]{1,2})?(\+[a-z0-9]{1,3}(\.[a-z0-9]{1,3})?)?",
    "npm": r"v?(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})(-[0-9a-z]{1,3}(\.[0-9a-z]{1,3}){0,2})?(\+[0-9a-z]{1,3})?",
    "crates.io": r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})(-[0-9a-z]{1,3}(\.[0-9a-z]{1,3}){0,2})?",
    "NuGet": r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}(-[0-9a-zA-Z]{1,3}(\.[0-9a-zA-Z]{1,3}){0,2})?",
    "Go": r"v?(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})(-[0-9a-z]{1,3}(\.[0-9a-z]{1,3}){0,2})?(\+incompatible)?)?)?",
    "Maven": r"[0-9]{1,3}([.-]?([0-9]{1,3}|alpha|beta|milestone|rc|cr|snapshot|ga|final|release|sp|[a-z]{1,3})){0,5}",
    "RubyGems": r"[0-9]{1,3}(\.([0-9]{1,3}|[a-z]{1,3}|[0-9]{1,2}[a-z]{1,2})){0,4}(-[0-9a-z]{1,3})?",
    "Packagist": r"v?[0-9]{1,4}(\.[0-9]{1,3}){0,3}([-.]?(alpha|beta|RC|a|b|p|pl|patch|stable)([.-]?[0-9]{1,2})?)?([.-]dev)?",
    "Bitnami": r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}(-[0-9a-z]{1,3}(\.[0-9a-z]{1,3}){0,2})?",
}


@functools.cache
def _datafile_versions() -> dict[str, list[str]]:
    out: dict[str, set[str]] = {}
    for data in all_files():
        for eco in data.ecosystems:
            out.setdefault(_family(eco), set()).update(data.versions)
    return {k: sorted(v) for k, v in out.items()}


def _family(eco: str) -> str:
    """The GRAMMARS key that covers an ecosystem."""
    return {
        "Ubuntu": "Debian",
        "Rocky Linux": "AlmaLinux",
        "Red Hat": "AlmaLinux",
        "Wolfi": "Alpine",
        "Chainguard": "Alpine",
        "Hex": "crates.io",
    }.get(eco, eco)


def _versions(eco: str) -> st.SearchStrategy[str]:
    generated = st.from_regex(GRAMMARS[eco], fullmatch=True)
    known = _datafile_versions().get(eco, [])
    return st.one_of(generated, st.sampled_from(known)) if known else generated


def _valid(scheme: VersionScheme, v: str) -> bool:
    try:
        scheme.key(v)
    except InvalidVersion:
        return False
    return True


NOT_TRANSITIVE = frozenset({"Maven"})
"""Orders that are not transitive upstream: Maven's ComparableVersion drops a null item ahead of
a sub-list while normalizing (`1ga.alpha` reads as `1-[[alpha]]`), and a string item sorts below
a sub-list, so `1 < 1-abc < 1ga.alpha < 1` (`test_maven_order_is_not_transitive_upstream`)."""


def test_maven_order_is_not_transitive_upstream() -> None:
    """The cycle ComparableVersion (maven-artifact 3.9) itself makes, which dockwatch keeps
    rather than invent an order Maven does not have."""
    maven = scheme_for("Maven")
    assert maven is not None
    assert maven.compare("1", "1-abc") < 0
    assert maven.compare("1-abc", "1ga.alpha") < 0
    assert maven.compare("1ga.alpha", "1") < 0


@pytest.mark.parametrize("eco", sorted(GRAMMARS))
def test_order_and_coarse_properties(eco: str) -> None:
    scheme = scheme_for(eco)
    assert scheme is not None

    @settings(max_examples=300, deadline=None)
    @given(st.lists(_versions(eco), min_size=3, max_size=3))
    def check(vs: list[str]) -> None:
        assume(all(_valid(scheme, v) for v in vs))
        for a in vs:
            assert scheme.compare(a, a) == 0
            for b in vs:
                ab, ba = scheme.compare(a, b), scheme.compare(b, a)
                assert ab == -ba, (a, b)
                if ab <= 0:
                    assert scheme.coarse(a) <= scheme.coarse(b), (
                        a,
                        b,
                        scheme.coarse(a),
                        scheme.coarse(b),
                    )
        if eco in NOT_TRANSITIVE:
            return
        x, y, z = sorted(vs, key=functools.cmp_to_key(scheme.compare))
        assert scheme.compare(x, y) <= 0 and scheme.compare(y, z) <= 0
        assert scheme.compare(x, z) <= 0, (x, y, z)
        if scheme.compare(x, y) == 0 and scheme.compare(y, z) == 0:
            assert scheme.compare(x, z) == 0

    check()


def _assert_sorted_coarse(scheme: VersionScheme, versions: Iterable[str]) -> int:
    """Sort by the exact key, then the coarse keys must not decrease along the sequence."""
    valid = [v for v in set(versions) if _valid(scheme, v)]
    ordered = sorted(valid, key=functools.cmp_to_key(scheme.compare))
    coarse = [scheme.coarse(v) for v in ordered]
    bad = [
        (ordered[i], ordered[i + 1]) for i in range(len(ordered) - 1) if coarse[i] > coarse[i + 1]
    ]
    assert bad[:10] == []
    # the sort is consistent: neighbours compare <= 0
    assert all(scheme.compare(ordered[i], ordered[i + 1]) <= 0 for i in range(len(ordered) - 1))
    return len(ordered)


def test_coarse_monotonic_on_debian_archive() -> None:
    from tests.unit.versions.debian_corpus import load_corpus, mutations

    corpus = load_corpus()
    if corpus is None:
        pytest.skip("no apt package lists on this machine")
    import random

    rng = random.Random(3)
    versions = corpus.all_versions
    extra = [m for v in rng.sample(versions, 3000) for m in mutations(v, rng)]
    scheme = scheme_for("Debian")
    assert scheme is not None
    assert _assert_sorted_coarse(scheme, versions + extra) > 20_000


def _event_versions(source: str, pattern: str) -> dict[str, set[str]]:
    root = VULNDATA / source
    if not root.is_dir():
        pytest.skip(f"{root} is absent (../shared/vulndata)")
    out: dict[str, set[str]] = {}
    for path in root.glob(pattern):
        record = json.loads(path.read_text())
        for affected in record.get("affected", []):
            eco = affected["package"]["ecosystem"].split(":")[0]
            for r in affected.get("ranges", []):
                if r.get("type") == "GIT":
                    continue
                for event in r.get("events", []):
                    out.setdefault(eco, set()).update(v for v in event.values() if v != "0")
    return out


@pytest.mark.parametrize(
    ("source", "pattern"),
    [
        ("golang-vulndb", "data/osv/*.json"),
        ("rustsec-advisory-db", "crates/*.json"),
        ("bitnami-vulndb", "data/*/*.json"),
        ("almalinux-osv-database", "advisories/*/*.json"),
    ],
)
def test_coarse_monotonic_on_real_event_versions(source: str, pattern: str) -> None:
    for eco, versions in _event_versions(source, pattern).items():
        scheme = scheme_for(eco)
        assert scheme is not None
        assert _assert_sorted_coarse(scheme, versions) > 500
