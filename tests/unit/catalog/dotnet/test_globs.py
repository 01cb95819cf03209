"""Which files the dotnet catalogers ask the layer reader for (syft's TestCataloger_Globs)."""

from __future__ import annotations

import pytest

from dockwatch.catalog.cataloger import match_glob
from dockwatch.catalog.dotnet import CATALOGER

GLOBS = tuple(g for c in (CATALOGER,) for g in c.globs)


@pytest.mark.parametrize(
    "path",
    "/app/MyApi.deps.json /usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.1/Microsoft.NETCore.App.deps.json".split(),
)
def test_read(path: str) -> None:
    assert any(match_glob(g, path) for g in GLOBS)


@pytest.mark.parametrize("path", "/app/MyApi.runtimeconfig.json".split())
def test_not_read(path: str) -> None:
    assert not any(match_glob(g, path) for g in GLOBS)
