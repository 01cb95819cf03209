""".NET NuGet packages from `*.deps.json` dependency manifests."""

from dockwatch.catalog.dotnet.cataloger import CATALOGER

__all__ = ["CATALOGER"]
