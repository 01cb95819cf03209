"""rpm ordering checked against `rpm.labelCompare` (python3-rpm, system Python) on real versions.

The versions are every `fixed` version of the AlmaLinux OSV data in ../shared/vulndata, paired
within a package (across releases 8, 9 and 10) and with mutations that exercise epochs, `~`,
`^`, release suffixes and separators.
"""

from __future__ import annotations

import pytest

from dockwatch.versions.rpm import RpmScheme
from dockwatch.versions.scheme import InvalidVersion
from tests.unit.versions.rpm_corpus import (
    ALMA,
    build_pairs,
    label_compare,
    rpm_oracle_available,
    versions_by_package,
)


@pytest.fixture(scope="module")
def pairs() -> list[tuple[str, str]]:
    by_pkg = versions_by_package()
    if by_pkg is None:
        pytest.skip(f"{ALMA} is absent (../shared/vulndata)")
    return build_pairs(by_pkg)


def test_every_almalinux_version_parses(pairs: list[tuple[str, str]]) -> None:
    scheme = RpmScheme()
    bad = []
    for a, b in pairs:
        for v in (a, b):
            try:
                scheme.key(v)
            except InvalidVersion as e:
                bad.append(str(e))
    assert bad == []


@pytest.mark.slow
def test_agrees_with_rpm_label_compare(pairs: list[tuple[str, str]]) -> None:
    if not rpm_oracle_available():
        pytest.skip("python3-rpm is not installed for the system Python (deps/apt-packages.txt)")
    assert len(pairs) > 30_000
    expected = label_compare(pairs)
    assert len(expected) == len(pairs)
    assert set(expected) == {-1, 0, 1}
    scheme = RpmScheme()
    mismatches = [
        (a, b, want, got)
        for (a, b), want in zip(pairs, expected, strict=True)
        if (got := scheme.compare(a, b)) != want
    ]
    assert mismatches[:20] == [], f"{len(mismatches)} of {len(pairs)} pairs disagree with rpm"


@pytest.mark.parametrize("version", ["", "1.0-", "x:1.0-1", "1.0 -1", "1.0-1-2-", "1.0/2-1", "é-1"])
def test_rejects_malformed(version: str) -> None:
    with pytest.raises(InvalidVersion):
        RpmScheme().key(version)


def test_ground_truth_file_agrees_with_rpm() -> None:
    """The hand-written rpm.txt is itself checked against rpm's implementation."""
    if not rpm_oracle_available():
        pytest.skip("python3-rpm is not installed for the system Python (deps/apt-packages.txt)")
    from tests.unit.versions.datafiles import DATA, read

    relations = [
        r for name in ("rpm.txt", "rpm-generated.txt") for r in read(DATA / name).relations
    ]
    got = label_compare([(r.a, r.b) for r in relations])
    wrong = [
        f"{r.path}:{r.line}: {r.a} vs {r.b}"
        for r, g in zip(relations, got, strict=True)
        if g != r.expected
    ]
    assert wrong == []
