"""The go.mod cataloger: modules a Go source tree requires (Inspector: GOMOD).

Each requirement is reported as the module the build would get: a replaced module as its
replacement (naming the original in `replaces`), as the binary cataloger does; a requirement
replaced by a local directory names no release and is not reported. The main module has no
version and is not a package. A `go.sum` next to the go.mod, in the same layer, confirms
versions (`h1_digest`); it adds none. When the compiled binary is in the image too, `coalesce`
keeps the binary's record (GOBINARY) for each module of the same version.
"""

from __future__ import annotations

import posixpath

from dockwatch.catalog.cataloger import CatalogError, CatalogResult, LayerFiles, ParseEnv, Skipped
from dockwatch.catalog.golang.package import golang_purl
from dockwatch.catalog.golang.parse_gomod import parse_gomod, parse_gosum
from dockwatch.model.package import Package

FOUND_BY = "go-mod-manifest"


class GoModCataloger:
    """Requirements of every go.mod, confirmed by its go.sum."""

    name = FOUND_BY
    version = 1
    globs = ("/**/go.mod", "/**/go.sum")

    def wants(self, path: str, size: int, mode: int) -> bool:
        """go.mod and go.sum are named by the globs."""
        return False

    def catalog(self, files: LayerFiles, env: ParseEnv) -> CatalogResult:
        """The modules of each go.mod; an unreadable one is skipped with the reason."""
        packages: list[Package] = []
        skipped: list[Skipped] = []
        for path, entry in files.files.items():
            if entry.data is None or not path.endswith("/go.mod"):
                continue
            try:
                packages.extend(self._packages(path, entry.data, files))
            except (CatalogError, UnicodeError) as exc:
                skipped.append(Skipped(path, f"{type(exc).__name__}: {exc}"))
        return CatalogResult(tuple(packages), tuple(skipped))

    @staticmethod
    def _packages(path: str, data: bytes, files: LayerFiles) -> list[Package]:
        mod = parse_gomod(path, data)
        sums: dict[tuple[str, str], str] = {}
        sum_entry = files.files.get(posixpath.join(posixpath.dirname(path), "go.sum"))
        if sum_entry is not None and sum_entry.data is not None:
            sums = parse_gosum(sum_entry.data)
        out: list[Package] = []
        seen: set[tuple[str, str]] = set()
        for req in mod.requires:
            name, version, replacement = mod.resolve(req)
            if version is None or (name, version) in seen:
                continue
            seen.add((name, version))
            meta: list[tuple[str, str]] = []
            if mod.module:
                meta.append(("main_module", mod.module))
            if req.indirect:
                meta.append(("indirect", "true"))
            if replacement is not None:
                meta.append(("replaces", f"{req.path}@{req.version}"))
            digest = sums.get((name, version))
            if digest:
                meta.append(("h1_digest", digest))
            out.append(
                Package(
                    name=name,
                    version=version,
                    type="go",
                    purl=golang_purl(name, version),
                    locations=(path,),
                    found_by=FOUND_BY,
                    metadata=tuple(sorted(meta)),
                    package_manager="GOMOD",
                )
            )
        return out


CATALOGER = GoModCataloger()
