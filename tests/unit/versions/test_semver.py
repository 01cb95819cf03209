"""SemVer specifics: the pre-release key and each ecosystem's leniency."""

from __future__ import annotations

import pytest

from dockwatch.versions.scheme import InvalidVersion
from dockwatch.versions.semver import CratesScheme, NpmScheme, NuGetScheme, prerelease_key


def test_prerelease_key() -> None:
    assert prerelease_key(None) == (1,)
    assert prerelease_key("alpha.1") == (0, ((1, "alpha"), (0, 1)))
    assert prerelease_key("RC.1", fold_case=True) == (0, ((1, "rc"), (0, 1)))


def test_leniency_differs_by_ecosystem() -> None:
    assert NpmScheme().compare("v1.2.3", "1.2.3") == 0
    with pytest.raises(InvalidVersion):
        CratesScheme().key("v1.2.3")
    assert NuGetScheme().compare("1.2", "1.2.0.0") == 0
    with pytest.raises(InvalidVersion):
        NpmScheme().key("1.2")
