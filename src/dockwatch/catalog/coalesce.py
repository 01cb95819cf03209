"""Per-layer cataloguer results -> the image's package set (cf. claircore's Coalescer).

Packages are grouped by (cataloger, the file they were read from). Layers are applied base
first, as a container runtime unpacks them: a layer's whiteouts and opaque directories first
remove lower-layer groups, then each group the layer provides replaces the lower one of the same
file. Inside a replaced group (a package database rewritten by `apt-get install`), a package
that was already there with the same name, version and architecture keeps its earlier layer;
added or changed ones are attributed to this layer. So a whole database rewritten to upgrade one
package moves only that package.

Finally, file-based packages (jars, node modules, dist-info, binaries) whose file is owned by an
OS package of the squashed image get `os_package`, so matching goes through the distribution's
advisories for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dockwatch.model.catalog import CatalogResult
from dockwatch.model.digest import Digest
from dockwatch.model.package import OS_PACKAGE_TYPES, OsPackageRef, Package
from dockwatch.value_class import frozen


@frozen
class LayerCatalog:
    """One layer's contribution: its deletions and each cataloger's result."""

    digest: Digest
    results: Mapping[str, CatalogResult]
    whiteouts: frozenset[str] = frozenset()
    opaque_dirs: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Group:
    layer: int
    packages: list[Package] = field(default_factory=list)


def file_of(location: str) -> str:
    """The image file a location names (`/app.jar!/BOOT-INF/lib/x.jar` -> `/app.jar`)."""
    return location.split("!", 1)[0]


def _removed(path: str, whiteouts: frozenset[str], opaque: frozenset[str]) -> bool:
    if not path:
        return False
    if path in whiteouts:
        return True
    probe = path
    while True:
        cut = probe.rfind("/")
        if cut <= 0:
            return False
        probe = probe[:cut]
        if probe in whiteouts or probe in opaque:
            return True


def _identity(p: Package) -> tuple[str, str, str, str | None]:
    return (p.type, p.name, p.version, p.arch)


def coalesce(layers: Sequence[LayerCatalog]) -> tuple[Package, ...]:
    """The squashed image's packages, each with the digest of the layer that introduced it."""
    groups: dict[tuple[str, str], _Group] = {}
    owned: dict[tuple[str, str], tuple[str, ...]] = {}
    for index, layer in enumerate(layers):
        if layer.whiteouts or layer.opaque_dirs:
            for key in [
                k for k, g in groups.items() if _removed(k[1], layer.whiteouts, layer.opaque_dirs)
            ]:
                del groups[key]
        for name, result in layer.results.items():
            fresh: dict[str, list[Package]] = {}
            for pkg in result.packages:
                path = file_of(pkg.locations[0]) if pkg.locations else ""
                fresh.setdefault(path, []).append(pkg)
            for path, packages in fresh.items():
                previous = groups.get((name, path))
                earlier: dict[tuple[str, str, str, str | None], Digest | None] = {}
                if previous is not None:
                    earlier = {_identity(p): p.layer_digest for p in previous.packages}
                groups[(name, path)] = _Group(
                    index,
                    [
                        dataclasses.replace(
                            p, layer_digest=earlier.get(_identity(p)) or layer.digest
                        )
                        for p in packages
                    ],
                )
            for pkg_name, paths in result.owned_files:
                owned[(name, pkg_name)] = paths
    packages = [p for g in groups.values() for p in g.packages]
    packages = _attach_owners(packages, owned)
    packages = _fold_lockfile_entries(packages)
    return tuple(sorted(packages, key=lambda p: (p.type, p.name, p.version, p.locations)))


def _is_lockfile(found_by: str) -> bool:
    """Catalogers of declared, not installed, packages: lockfiles (`npm-lockfile`,
    `rust-cargo-lock`, `ruby-gemfile-lock`) and manifests (`python-manifest`, `go-mod-manifest`)."""
    return "lock" in found_by or found_by.endswith("-manifest")


def _fold_lockfile_entries(packages: list[Package]) -> list[Package]:
    """A package both installed (`node_modules/x/package.json`) and listed in a lockfile or a
    manifest (same type, name and version) is one package: keep the installed record, which
    locates it precisely and names the installed package manager, and add the lockfile to its
    locations. Lockfile entries with nothing installed stay (an image may ship only a lock); so
    does an entry whose version differs from the installed one (the lock and the disk disagree,
    and both are reported)."""
    installed: dict[tuple[str, str, str], int] = {}
    for i, p in enumerate(packages):
        if not _is_lockfile(p.found_by):
            installed.setdefault((p.type, p.name, p.version), i)
    out = list(packages)
    dropped: set[int] = set()
    for i, p in enumerate(packages):
        if not _is_lockfile(p.found_by):
            continue
        j = installed.get((p.type, p.name, p.version))
        if j is None:
            continue
        keep = out[j]
        extra = tuple(loc for loc in p.locations if loc not in keep.locations)
        out[j] = dataclasses.replace(keep, locations=keep.locations + extra)
        dropped.add(i)
    return [p for i, p in enumerate(out) if i not in dropped]


def _owner(locations: tuple[str, ...], owners: Mapping[str, OsPackageRef]) -> OsPackageRef | None:
    """The owner of a location's file, else of its directory (an `.egg-info` directory, say)."""
    for location in locations:
        path = file_of(location)
        for candidate in (path, path.rsplit("/", 1)[0]):
            if candidate in owners:
                return owners[candidate]
    return None


def _attach_owners(
    packages: list[Package], owned: Mapping[tuple[str, str], tuple[str, ...]]
) -> list[Package]:
    owners: dict[str, OsPackageRef] = {}
    for p in packages:
        if p.type not in OS_PACKAGE_TYPES:
            continue
        paths = owned.get((p.found_by, p.name))
        if not paths:
            continue
        ref = OsPackageRef(p.type, p.name, p.version, p.source_name, p.source_version)
        for path in paths:
            owners.setdefault(path, ref)
    if not owners:
        return packages
    out = []
    for p in packages:
        if p.type not in OS_PACKAGE_TYPES and p.os_package is None:
            owner = _owner(p.locations, owners)
            if owner is not None:
                p = dataclasses.replace(p, os_package=owner)
        out.append(p)
    return out
