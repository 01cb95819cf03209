"""Every scheme against the ground-truth files in tests/data/versions."""

from __future__ import annotations

import pytest

from dockwatch.versions.scheme import InvalidVersion, scheme_for
from tests.unit.versions.datafiles import DataFile, all_files

FILES = all_files()
CASES = [(f, eco) for f in FILES for eco in f.ecosystems]


def _id(case: tuple[DataFile, str]) -> str:
    return f"{case[0].path.name}-{case[1]}"


def test_files_exist() -> None:
    names = {f.path.name for f in FILES}
    expected = {"apk.txt", "dpkg.txt", "dpkg-generated.txt", "rpm.txt", "pep440.txt", "semver.txt"}
    assert expected <= names
    assert {"maven.txt", "golang.txt", "gem.txt", "composer.txt", "nuget.txt"} <= names


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_relations(case: tuple[DataFile, str]) -> None:
    data, ecosystem = case
    scheme = scheme_for(ecosystem)
    assert scheme is not None
    wrong = []
    for rel in data.relations:
        got = scheme.compare(rel.a, rel.b)
        back = scheme.compare(rel.b, rel.a)
        if got != rel.expected or back != -rel.expected:
            wrong.append(
                f"{rel.path}:{rel.line}: {rel.a!r} vs {rel.b!r}: want {rel.expected}, got {got}"
            )
        if rel.expected <= 0 and scheme.coarse(rel.a) > scheme.coarse(rel.b):
            wrong.append(f"{rel.path}:{rel.line}: coarse({rel.a!r}) > coarse({rel.b!r})")
    assert data.relations or data.invalid
    assert wrong == []


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_invalid(case: tuple[DataFile, str]) -> None:
    data, ecosystem = case
    scheme = scheme_for(ecosystem)
    assert scheme is not None
    accepted = []
    for line, version in data.invalid:
        try:
            scheme.key(version)
        except InvalidVersion as e:
            assert e.version == version
            assert e.reason
        else:
            accepted.append(f"{data.path.name}:{line}: {version!r}")
    assert accepted == []
