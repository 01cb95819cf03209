"""The pom.xml cataloger: dependencies a Maven project declares (Inspector: POM).

A dependency whose version the POM and its parents in the same layer cannot give (a property
of a remote parent, an imported BOM, a range) is reported as skipped with the reason, never
guessed. When the built jar is in the image too, `coalesce` keeps the jar's record (JAR) for
each dependency of the same coordinates and version.
"""

from __future__ import annotations

from dockwatch.catalog.cataloger import CatalogError, CatalogResult, LayerFiles, ParseEnv, Skipped
from dockwatch.catalog.java.package import new_package
from dockwatch.catalog.java.parse_pom import declared
from dockwatch.model.package import Package

FOUND_BY = "java-pom-manifest"


class PomCataloger:
    """Declared dependencies of every pom.xml."""

    name = FOUND_BY
    version = 1
    globs = ("/**/pom.xml",)

    def wants(self, path: str, size: int, mode: int) -> bool:
        """POMs are named by the glob."""
        return False

    def catalog(self, files: LayerFiles, env: ParseEnv) -> CatalogResult:
        """Resolved dependencies as packages; unresolved ones and unreadable POMs skipped."""
        packages: list[Package] = []
        skipped: list[Skipped] = []

        def lookup(path: str) -> bytes | None:
            entry = files.files.get(path)
            return entry.data if entry is not None else None

        for path, entry in files.files.items():
            if entry.data is None or not path.endswith("/pom.xml"):
                continue
            try:
                deps = declared(path, entry.data, lookup)
            except (CatalogError, ValueError) as exc:
                skipped.append(Skipped(path, f"{type(exc).__name__}: {exc}"))
                continue
            seen: set[tuple[str, str, str]] = set()
            for d in deps:
                if d.version is None:
                    skipped.append(
                        Skipped(
                            path,
                            f"{d.group}:{d.artifact}: version {d.raw_version or '(none)'} "
                            "not resolvable within the image (no network)",
                        )
                    )
                    continue
                if (d.group, d.artifact, d.version) in seen:
                    continue
                seen.add((d.group, d.artifact, d.version))
                packages.append(
                    new_package(
                        d.group,
                        d.artifact,
                        d.version,
                        path,
                        (("evidence", "pom.xml"), ("scope", d.scope)),
                        found_by=FOUND_BY,
                        package_manager="POM",
                    )
                )
        return CatalogResult(tuple(packages), tuple(skipped))


CATALOGER = PomCataloger()
