"""Build a .NET `Package` (`pkg:nuget/Name@version`)."""

from __future__ import annotations

from packageurl import PackageURL

from dockwatch.model.package import Package

FOUND_BY = "dotnet-deps"


def new_package(
    name: str,
    version: str,
    location: str,
    metadata: tuple[tuple[str, str], ...],
    found_by: str = FOUND_BY,
    package_manager: str = "DOTNET_CORE",
) -> Package:
    """A NuGet package; names keep their case, as NuGet displays them. A deps.json entry is
    DOTNET_CORE; project files and NuGet lockfiles pass NUGET."""
    return Package(
        name=name,
        version=version,
        type="nuget",
        purl=PackageURL(type="nuget", name=name, version=version).to_string(),
        locations=(location,),
        found_by=found_by,
        metadata=tuple(sorted(metadata)),
        package_manager=package_manager,
    )
