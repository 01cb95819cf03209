"""Go module version specifics: pseudo-versions and the vulndb's v-less spelling."""

from __future__ import annotations

import pytest

from dockwatch.versions.golang import GoScheme


@pytest.mark.parametrize(
    ("version", "pseudo"),
    [
        ("v0.0.0-20191109021931-daa7c04131f5", True),
        ("v1.2.4-0.20191109021931-daa7c04131f5", True),
        ("v1.2.3-pre.0.20191109021931-daa7c04131f5", True),
        ("v2.0.1-0.20191109021931-daa7c04131f5+incompatible", True),
        ("v1.2.3", False),
        ("v1.2.3-rc.1", False),
    ],
)
def test_is_pseudo(version: str, pseudo: bool) -> None:
    assert GoScheme.is_pseudo(version) is pseudo
    assert GoScheme().key(version) is not None


def test_stdlib_versions_from_the_vulndb() -> None:
    s = GoScheme()
    assert s.compare("1.21.0-0", "v1.21.0-rc.2") == -1
    assert s.compare("1.20.5", "v1.20.10") == -1
