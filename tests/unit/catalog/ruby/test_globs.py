"""Which files the ruby catalogers ask the layer reader for (syft's TestCataloger_Globs)."""

from __future__ import annotations

import pytest

from dockwatch.catalog.cataloger import match_glob
from dockwatch.catalog.ruby import CATALOGER, LOCK_CATALOGER

GLOBS = tuple(g for c in (CATALOGER, LOCK_CATALOGER) for g in c.globs)


@pytest.mark.parametrize(
    "path",
    "/usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec /usr/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec /srv/app/Gemfile.lock".split(),
)
def test_read(path: str) -> None:
    assert any(match_glob(g, path) for g in GLOBS)


@pytest.mark.parametrize("path", "/srv/app/x.gemspec /srv/app/Gemfile".split())
def test_not_read(path: str) -> None:
    assert not any(match_glob(g, path) for g in GLOBS)
