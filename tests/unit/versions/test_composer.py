"""Composer specifics: normalisation into numbers and stability parts."""

from __future__ import annotations

import pytest

from dockwatch.versions.composer import ComposerScheme
from dockwatch.versions.scheme import InvalidVersion


def test_normalize() -> None:
    s = ComposerScheme()
    assert s.normalize("v1.2") == ([1, 2, 0, 0], [])
    assert s.normalize("1.0.0-b2") == ([1, 0, 0, 0], ["beta", 2])
    assert s.normalize("1.0-RC1-dev") == ([1, 0, 0, 0], ["RC", 1, "dev"])
    assert s.normalize("2010-01-02") == ([2010, 1, 2], [])
    assert s.normalize("1.0.0@beta") == ([1, 0, 0, 0], [])
    assert s.normalize("1.0.0 as 2.0.0") == ([1, 0, 0, 0], [])


@pytest.mark.parametrize(
    "version", ["dev-main", "2.x-dev", "1.0.x", "abc", "1.0.0-beta" + "1" * 300 + "x"]
)
def test_rejected(version: str) -> None:
    with pytest.raises(InvalidVersion):
        ComposerScheme().key(version)
