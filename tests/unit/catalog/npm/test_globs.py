"""Which files the npm catalogers ask the layer reader for (syft's TestCataloger_Globs)."""

from __future__ import annotations

import pytest

from dockwatch.catalog.cataloger import match_glob
from dockwatch.catalog.npm import INSTALLED_CATALOGER, LOCK_CATALOGER

GLOBS = tuple(
    g
    for c in (
        INSTALLED_CATALOGER,
        LOCK_CATALOGER,
    )
    for g in c.globs
)


@pytest.mark.parametrize(
    "path",
    "/app/node_modules/@s/x/package.json /usr/share/nodejs/x/package.json /a/package-lock.json /a/npm-shrinkwrap.json /a/yarn.lock /a/pnpm-lock.yaml".split(),
)
def test_read(path: str) -> None:
    assert any(match_glob(g, path) for g in GLOBS)


@pytest.mark.parametrize(
    "path", "/a/package.json.bak /a/.package-lock.json /a/yarn.lock.orig".split()
)
def test_not_read(path: str) -> None:
    assert not any(match_glob(g, path) for g in GLOBS)
