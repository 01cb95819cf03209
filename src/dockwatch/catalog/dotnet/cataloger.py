"""The .NET cataloger."""

from __future__ import annotations

from dockwatch.catalog.cataloger import GlobCataloger
from dockwatch.catalog.dotnet.package import FOUND_BY
from dockwatch.catalog.dotnet.parse_deps_json import parse_deps_json

CATALOGER = GlobCataloger(FOUND_BY, version=2).parse("/**/*.deps.json", parse_deps_json)
