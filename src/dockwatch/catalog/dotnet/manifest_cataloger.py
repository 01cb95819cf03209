"""The NuGet manifest cataloger: packages.lock.json, packages.config, *.csproj (Inspector: NUGET).

A reference whose version is an unresolvable `$(Property)` is reported as skipped; a range or
floating version is not a package (it names none). When the app's `*.deps.json` is in the image
too, `coalesce` keeps its record (DOTNET_CORE) for each package of the same version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dockwatch.catalog.cataloger import CatalogError, CatalogResult, LayerFiles, ParseEnv, Skipped
from dockwatch.catalog.dotnet.package import new_package
from dockwatch.catalog.dotnet.parse_nuget import (
    Reference,
    parse_csproj,
    parse_packages_config,
    parse_packages_lock,
)
from dockwatch.model.package import Package

FOUND_BY = "nuget-manifest"
_BY_NAME: dict[str, Callable[[str, bytes], Iterable[Reference]]] = {
    "packages.lock.json": parse_packages_lock,
    "packages.config": parse_packages_config,
}


def _parser(path: str) -> Callable[[str, bytes], Iterable[Reference]] | None:
    base = path.rsplit("/", 1)[-1]
    if base.endswith(".csproj"):
        return parse_csproj
    return _BY_NAME.get(base)


class NugetManifestCataloger:
    """Package references of NuGet manifests."""

    name = FOUND_BY
    version = 1
    globs = ("/**/packages.lock.json", "/**/packages.config", "/**/*.csproj")

    def wants(self, path: str, size: int, mode: int) -> bool:
        """Manifests are named by the globs."""
        return False

    def catalog(self, files: LayerFiles, env: ParseEnv) -> CatalogResult:
        """References with a version; unresolvable properties and unreadable files skipped."""
        packages: list[Package] = []
        skipped: list[Skipped] = []
        for path, entry in files.files.items():
            parser = _parser(path)
            if entry.data is None or parser is None:
                continue
            try:
                refs = list(parser(path, entry.data))
            except (CatalogError, ValueError, UnicodeError) as exc:
                skipped.append(Skipped(path, f"{type(exc).__name__}: {exc}"))
                continue
            for ref in refs:
                if ref.version is not None:
                    meta = (("evidence", path.rsplit("/", 1)[-1]), *ref.meta)
                    packages.append(
                        new_package(ref.name, ref.version, path, meta, FOUND_BY, "NUGET")
                    )
                elif "$(" in ref.raw:
                    skipped.append(
                        Skipped(path, f"{ref.name}: version {ref.raw} not resolvable here")
                    )
        return CatalogResult(tuple(packages), tuple(skipped))


CATALOGER = NugetManifestCataloger()
