"""Debian's Maven repository: symlinks that state a jar's Maven coordinates.

Debian's Java packages (maven-repo-helper, https://wiki.debian.org/Java/MavenRepoSpec) install each
jar in `/usr/share/java` and link it from `/usr/share/maven-repo` in the Maven repository layout,
`<group as dirs>/<artifact>/<version>/<artifact>-<version>.jar` (plus a `debian` version link).
That path is the packager's statement of the jar's groupId, artifactId and upstream version:
evidence, used when the jar carries no pom.properties (Debian builds some jars with ant or bnd,
e.g. mongodb-driver, whose manifest is empty). It is not a guess from a file name: a jar without
such a link and without pom.properties or manifest coordinates stays unreported.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from dockwatch.catalog.cataloger import FileEntry
from dockwatch.value_class import frozen

REPO_ROOTS = ("/usr/share/maven-repo/",)


@frozen
class RepoCoordinates:
    """Coordinates read from a repository-layout link, and the link's path."""

    group: str
    artifact: str
    version: str
    link: str


def coordinates_of(path: str) -> RepoCoordinates | None:
    """Coordinates of a repository-layout path, or None if the path does not follow the layout."""
    root = next((r for r in REPO_ROOTS if path.startswith(r)), None)
    if root is None:
        return None
    parts = path[len(root) :].split("/")
    if len(parts) < 4:
        return None
    *group, artifact, version, filename = parts
    if version == "debian" or not filename.startswith(f"{artifact}-{version}."):
        return None
    return RepoCoordinates(".".join(group), artifact, version, path)


def linked_coordinates(entries: Iterable[FileEntry]) -> dict[str, RepoCoordinates]:
    """Jar path (the link's resolved target) -> coordinates, for every repository-layout link."""
    out: dict[str, RepoCoordinates] = {}
    for entry in entries:
        if entry.link_target is None:
            continue
        coords = coordinates_of(entry.path)
        if coords is None:
            continue
        target = posixpath.normpath(
            posixpath.join(posixpath.dirname(entry.path), entry.link_target)
        )
        previous = out.get(target)
        if previous is None or coords.link < previous.link:
            out[target] = coords
    return out
