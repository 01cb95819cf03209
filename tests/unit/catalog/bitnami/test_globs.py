"""Which files the bitnami catalogers ask the layer reader for (syft's TestCataloger_Globs)."""

from __future__ import annotations

import pytest

from dockwatch.catalog.bitnami import CATALOGER
from dockwatch.catalog.cataloger import match_glob

GLOBS = tuple(g for c in (CATALOGER,) for g in c.globs)


@pytest.mark.parametrize(
    "path", "/opt/bitnami/redis/.spdx-redis.spdx /opt/bitnami/common/lib/.spdx-common.spdx".split()
)
def test_read(path: str) -> None:
    assert any(match_glob(g, path) for g in GLOBS)


@pytest.mark.parametrize("path", "/opt/bitnami/redis/spdx-redis.spdx /tmp/.spdx-x.spdx".split())
def test_not_read(path: str) -> None:
    assert not any(match_glob(g, path) for g in GLOBS)
