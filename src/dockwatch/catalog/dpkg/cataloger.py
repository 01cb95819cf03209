"""`DpkgCataloger`: installed Debian packages plus the files each one owns."""

from __future__ import annotations

import logging

from packageurl import PackageURL

from dockwatch.catalog.cataloger import CatalogError, CatalogResult, LayerFiles, ParseEnv, Skipped
from dockwatch.catalog.dpkg.parse_status import DpkgEntry, parse_list, parse_md5sums, parse_status
from dockwatch.model.distro import Distro
from dockwatch.model.package import Package

logger = logging.getLogger(__name__)

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d/"
INFO = "/var/lib/dpkg/info/"


class DpkgCataloger:
    """Reads `/var/lib/dpkg/status` and distroless `status.d/NAME` stanzas; the owned files come
    from `info/*.list` (or distroless `status.d/*.md5sums`) for `os_package` attribution."""

    name = "dpkg-db"
    version = 1
    globs = (
        STATUS,
        STATUS_D + "*",
        INFO + "*.list",
    )

    def wants(self, path: str, size: int, mode: int) -> bool:
        """Globs say it all."""
        return False

    def catalog(self, files: LayerFiles, env: ParseEnv) -> CatalogResult:
        """Packages of the status database(s) present in this layer, with their file lists."""
        packages: list[Package] = []
        skipped: list[Skipped] = []
        owned: dict[str, list[str]] = {}
        sums: dict[str, list[str]] = {}
        for path, entry in sorted(files.files.items()):
            if entry.data is None:
                continue
            try:
                if path == STATUS or (
                    path.startswith(STATUS_D)
                    and "/" not in path[len(STATUS_D) :]
                    and not path.endswith(".md5sums")
                ):
                    distroless = path != STATUS
                    # extend() keeps the stanzas read before a corrupt one: a partial result.
                    packages.extend(
                        _package(pkg, path, env.distro)
                        for pkg in parse_status(path, entry.data, require_status=not distroless)
                    )
                elif path.startswith(STATUS_D) and path.endswith(".md5sums"):
                    sums[path[len(STATUS_D) : -len(".md5sums")]] = parse_md5sums(entry.data)
                elif path.startswith(INFO) and path.endswith(".list"):
                    owned[path[len(INFO) : -len(".list")].split(":")[0]] = parse_list(entry.data)
            except (CatalogError, UnicodeError) as exc:
                skipped.append(Skipped(path, str(exc)))
        for name, paths in sums.items():
            owned.setdefault(name, paths)
        return CatalogResult(
            tuple(packages),
            tuple(skipped),
            owned_files=tuple(sorted((name, tuple(paths)) for name, paths in owned.items())),
        )


def purl(
    name: str, version: str, arch: str | None, distro: Distro | None, source: str | None
) -> str:
    """`pkg:deb/debian/NAME@VERSION?arch=...&distro=debian-12&upstream=SRC` as syft spells it."""
    namespace = distro.id if distro is not None else "debian"
    qualifiers: dict[str, str] = {}
    if arch:
        qualifiers["arch"] = arch
    if distro is not None and distro.version_id:
        qualifiers["distro"] = f"{distro.id}-{distro.version_id}"
    if source and source != name:
        qualifiers["upstream"] = source
    return str(
        PackageURL(
            type="deb", namespace=namespace, name=name, version=version, qualifiers=qualifiers
        )
    )


def _package(entry: DpkgEntry, path: str, distro: Distro | None) -> Package:
    epoch = None
    if ":" in entry.version:
        head = entry.version.split(":", 1)[0]
        epoch = int(head) if head.isdigit() else None
    return Package(
        name=entry.name,
        version=entry.version,
        type="deb",
        purl=purl(entry.name, entry.version, entry.architecture, distro, entry.source_name),
        locations=(path,),
        found_by=DpkgCataloger.name,
        source_name=entry.source_name,
        source_version=entry.source_version,
        epoch=epoch,
        arch=entry.architecture,
    )
