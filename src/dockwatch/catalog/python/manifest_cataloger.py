"""The Python manifest cataloger: pinned requirements files and pipenv, Poetry and uv locks.

Manifests declare what an image's build installed; when the same distribution is also
installed (a dist-info of the same name and version), `coalesce` keeps the installed record
(PYTHONPKG) and adds the manifest to its locations. A `-r` include that is not among the files
the layer reader kept (only the globs below are) is reported as skipped, never silently dropped.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable

from dockwatch.catalog.cataloger import (
    CatalogError,
    CatalogResult,
    LayerFiles,
    ParseEnv,
    Skipped,
    match_glob,
)
from dockwatch.catalog.python.parse_locks import (
    parse_pipfile_lock,
    parse_poetry_lock,
    parse_uv_lock,
)
from dockwatch.catalog.python.parse_requirements import FOUND_BY, parse_requirements
from dockwatch.model.package import Package

REQUIREMENTS_GLOBS = ("/**/requirements*.txt", "/**/requirements/*.txt")
LOCKS: dict[str, Callable[[str, bytes], Iterable[Package]]] = {
    "Pipfile.lock": parse_pipfile_lock,
    "poetry.lock": parse_poetry_lock,
    "uv.lock": parse_uv_lock,
}


class PythonManifestCataloger:
    """Pins of requirements files and lockfiles."""

    name = FOUND_BY
    version = 1
    globs = (*REQUIREMENTS_GLOBS, *(f"/**/{n}" for n in LOCKS))

    def wants(self, path: str, size: int, mode: int) -> bool:
        """Manifests are named by the globs."""
        return False

    def catalog(self, files: LayerFiles, env: ParseEnv) -> CatalogResult:
        """Each manifest's pins; unreadable files and unreachable includes are skipped."""
        packages: list[Package] = []
        skipped: list[Skipped] = []
        for path, entry in files.files.items():
            if entry.data is None:
                continue
            lock = LOCKS.get(path.rsplit("/", 1)[-1])
            try:
                if lock is not None:
                    packages.extend(lock(path, entry.data))
                elif any(match_glob(g, path) for g in REQUIREMENTS_GLOBS):
                    reqs = parse_requirements(path, entry.data)
                    packages.extend(reqs.packages)
                    skipped.extend(_unread_includes(path, reqs.includes, files))
            except (CatalogError, ValueError, UnicodeError) as exc:
                skipped.append(Skipped(path, f"{type(exc).__name__}: {exc}"))
        return CatalogResult(tuple(packages), tuple(skipped))


def _unread_includes(path: str, includes: list[str], files: LayerFiles) -> Iterable[Skipped]:
    """Included files are catalogued on their own when the layer holds them; others are named."""
    base = posixpath.dirname(path)
    for include in includes:
        if "://" in include:
            yield Skipped(include, f"included by {path} (-r) from a URL: not fetched")
            continue
        target = posixpath.normpath(posixpath.join(base, include))
        if target not in files.files:
            yield Skipped(
                target,
                f"included by {path} (-r) but not in this layer's manifests "
                "(requirements*.txt, requirements/*.txt): its pins are not reported",
            )


CATALOGER = PythonManifestCataloger()
