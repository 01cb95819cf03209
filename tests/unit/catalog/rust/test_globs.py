"""Which files the rust catalogers ask the layer reader for (syft's TestCataloger_Globs)."""

from __future__ import annotations

import pytest

from dockwatch.catalog.cataloger import match_glob
from dockwatch.catalog.rust import AUDITABLE_CATALOGER, LOCK_CATALOGER

GLOBS = tuple(
    g
    for c in (
        LOCK_CATALOGER,
        AUDITABLE_CATALOGER,
    )
    for g in c.globs
)


@pytest.mark.parametrize("path", "/src/app/Cargo.lock".split())
def test_read(path: str) -> None:
    assert any(match_glob(g, path) for g in GLOBS)


@pytest.mark.parametrize("path", "/src/app/Cargo.toml".split())
def test_not_read(path: str) -> None:
    assert not any(match_glob(g, path) for g in GLOBS)
