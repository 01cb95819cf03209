"""The Bitnami cataloger."""

from __future__ import annotations

from dockwatch.catalog.bitnami.package import FOUND_BY
from dockwatch.catalog.bitnami.parse_spdx import parse_bitnami_spdx
from dockwatch.catalog.cataloger import GlobCataloger

CATALOGER = GlobCataloger(FOUND_BY, version=1).parse(
    "/opt/bitnami/**/.spdx-*.spdx", parse_bitnami_spdx
)
