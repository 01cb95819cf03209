""".NET NuGet packages: `*.deps.json` dependency manifests, and the project-side manifests
(packages.lock.json, packages.config, *.csproj)."""

from dockwatch.catalog.dotnet.cataloger import CATALOGER
from dockwatch.catalog.dotnet.manifest_cataloger import CATALOGER as MANIFEST_CATALOGER

__all__ = ["CATALOGER", "MANIFEST_CATALOGER"]
