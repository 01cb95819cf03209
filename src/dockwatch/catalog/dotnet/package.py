"""Build a .NET `Package` (`pkg:nuget/Name@version`)."""

from __future__ import annotations

from packageurl import PackageURL

from dockwatch.model.package import Package

FOUND_BY = "dotnet-deps"


def new_package(
    name: str, version: str, location: str, metadata: tuple[tuple[str, str], ...]
) -> Package:
    """A NuGet package; names keep their case, as NuGet displays them."""
    return Package(
        name=name,
        version=version,
        type="nuget",
        purl=PackageURL(type="nuget", name=name, version=version).to_string(),
        locations=(location,),
        found_by=FOUND_BY,
        metadata=tuple(sorted(metadata)),
    )
