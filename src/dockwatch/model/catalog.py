"""Values cataloguing produces and the catalog cache stores: per-layer results and facts.

They live in `model/` because both the catalogers (which make them) and storage (which keeps
them) need them, and storage imports nothing above `model/`.
"""

from __future__ import annotations

from dockwatch.model.digest import Digest
from dockwatch.model.package import Package
from dockwatch.value_class import frozen


@frozen
class FileEntry:
    """One regular file (or symlink) of a layer, with its content if it was a candidate."""

    path: str
    """Absolute path inside the image, normalized (`/usr/lib/x`), never containing `..`."""
    size: int
    """Size from the tar header."""
    mode: int
    """Permission bits from the tar header."""
    data: bytes | None = None
    """Content, for candidate files read within budget; None otherwise."""
    link_target: str | None = None
    """For symlinks: the target as written in the tar (not resolved)."""


@frozen
class Skipped:
    """A file a cataloger could not read, and why; reported, never silently dropped."""

    path: str
    reason: str


@frozen
class CatalogResult:
    """What one cataloger found in one layer."""

    packages: tuple[Package, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    owned_files: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """OS package databases only: (package name, absolute paths it installed), so that
    `coalesce` can name the OS package owning a jar, a node module or a dist-info."""


@frozen
class LayerFacts:
    """What the coalescer and OS detection need from a layer besides cataloger results."""

    diff_id: Digest | None
    whiteouts: frozenset[str]
    opaque_dirs: frozenset[str]
    release_files: tuple[FileEntry, ...]
    """The layer's os-release and fallback release files (tiny), for OS detection."""
    warnings: tuple[str, ...] = ()
    complete: bool = True
