"""The Java archive cataloger.

Symlinks matching the globs are read too: in Debian's `/usr/share/maven-repo` they state the Maven
coordinates of the jar they point at (`parse_maven_repo`).

Not a `GlobCataloger`: one archive can yield packages *and* problems (a nested bomb next to good
jars), and the problems must be reported as skipped while the packages are kept. Locations are the
archive's path in the image (what a dpkg/rpm file list holds); nested archives keep the outer path
and name the inner one in `metadata` (`virtual_path`).
"""

from __future__ import annotations

from dockwatch.catalog.cataloger import CatalogResult, LayerFiles, ParseEnv, Skipped
from dockwatch.catalog.java.package import FOUND_BY
from dockwatch.catalog.java.parse_archive import ARCHIVE_EXTS, Limits, scan_archive
from dockwatch.catalog.java.parse_maven_repo import linked_coordinates
from dockwatch.model.package import Package


class JavaArchiveCataloger:
    """Maven coordinates of every Java archive, from pom.properties or MANIFEST.MF."""

    name = FOUND_BY
    version = 2
    #: Two patterns for the seven extensions: every layer path is matched against every glob.
    globs = ("/**/*.[jwesp]ar", "/**/*.[jh]pi")

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()

    def wants(self, path: str, size: int, mode: int) -> bool:
        """Archives are named by the globs; nothing else is needed."""
        return False

    def catalog(self, files: LayerFiles, env: ParseEnv) -> CatalogResult:
        """Each archive is read on its own budget; its problems become skipped entries."""
        packages: list[Package] = []
        skipped: list[Skipped] = []
        links = linked_coordinates(files.files.values())
        for path, entry in files.files.items():
            if entry.data is None or not path.endswith(ARCHIVE_EXTS):
                continue
            scan = scan_archive(path, entry.data, self.limits, links.get(path))
            packages.extend(scan.packages)
            skipped.extend(Skipped(where, why) for where, why in scan.problems)
        return CatalogResult(tuple(packages), tuple(skipped))


CATALOGER = JavaArchiveCataloger()
