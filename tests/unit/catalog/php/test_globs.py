"""Which files the php catalogers ask the layer reader for (syft's TestCataloger_Globs)."""

from __future__ import annotations

import pytest

from dockwatch.catalog.cataloger import match_glob
from dockwatch.catalog.php import CATALOGER, LOCK_CATALOGER

GLOBS = tuple(g for c in (CATALOGER, LOCK_CATALOGER) for g in c.globs)


@pytest.mark.parametrize(
    "path", "/var/www/vendor/composer/installed.json /var/www/composer.lock".split()
)
def test_read(path: str) -> None:
    assert any(match_glob(g, path) for g in GLOBS)


@pytest.mark.parametrize(
    "path", "/var/www/composer.json /var/www/vendor/composer/installed.php".split()
)
def test_not_read(path: str) -> None:
    assert not any(match_glob(g, path) for g in GLOBS)
