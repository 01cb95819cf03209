"""The `Cataloger` protocol, the per-layer file view it reads, and the generic glob cataloger.

A cataloger never opens a tar itself: `catalog.layers` streams each layer once, keeps in memory only the
files whose path matches some cataloger's globs (or whose header passes its `wants` sniff), and
hands the resulting `LayerFiles` to every cataloger. Parsers are plain functions, as in syft:
`(path, data, env) -> Iterable[Package]`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from dockwatch.errors import DockwatchError
from dockwatch.model.catalog import CatalogResult, FileEntry, Skipped
from dockwatch.model.distro import Distro
from dockwatch.model.package import Package
from dockwatch.value_class import frozen

__all__ = [
    "CatalogError",
    "CatalogResult",
    "Cataloger",
    "FileEntry",
    "GlobCataloger",
    "LayerFiles",
    "ParseEnv",
    "Parser",
    "Skipped",
    "match_glob",
]


class CatalogError(DockwatchError):
    """Base of cataloguing errors. A parser failing on one file raises a subclass; the file is
    then recorded as skipped and cataloguing goes on."""


class FileFormatError(CatalogError):
    """A file that is not the shape its format documents: `path: problem`."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(slots=True)
class LayerFiles:
    """The candidate files of one layer plus what the layer deletes."""

    files: dict[str, FileEntry] = field(default_factory=dict)
    """Candidate files by absolute path."""
    whiteouts: set[str] = field(default_factory=set)
    """Absolute paths removed by `.wh.NAME` entries in this layer."""
    opaque_dirs: set[str] = field(default_factory=set)
    """Absolute directory paths whose lower-layer content this layer hides (`.wh..wh..opq`)."""
    warnings: list[str] = field(default_factory=list)
    """Problems met while reading the layer (bad entries skipped, budgets hit)."""

    def glob(self, pattern: str) -> Iterator[FileEntry]:
        """Files whose absolute path matches the fnmatch-style `pattern` (`**` = any depth)."""
        for path, entry in self.files.items():
            if match_glob(pattern, path):
                yield entry


def match_glob(pattern: str, path: str) -> bool:
    """fnmatch where `**/` also matches zero directories; patterns are absolute paths."""
    if fnmatch.fnmatchcase(path, pattern):
        return True
    return "**/" in pattern and fnmatch.fnmatchcase(path, pattern.replace("**/", ""))


@frozen
class ParseEnv:
    """What a parser may know besides the file: the image's distribution, the whole layer view."""

    distro: Distro | None
    files: LayerFiles


Parser = Callable[[str, bytes, ParseEnv], Iterable[Package]]


@runtime_checkable
class Cataloger(Protocol):
    """Finds one kind of package in a layer's files."""

    name: str
    """Stable name, stored with results (`dpkg-db`, `python-installed`)."""
    version: int
    """Bumped whenever output changes for the same input; invalidates cached layer results."""

    @property
    def globs(self) -> tuple[str, ...]:
        """Absolute path patterns of the files this cataloger reads (read-only, so that a class
        attribute and `GlobCataloger`'s property both satisfy the protocol)."""
        ...

    def wants(self, path: str, size: int, mode: int) -> bool:
        """Whether a file not matched by `globs` must still be read (e.g. executables for Go)."""
        ...

    def catalog(self, files: LayerFiles, env: ParseEnv) -> CatalogResult:
        """The packages found in `files`."""
        ...


class GlobCataloger:
    """A cataloger declared as a list of (glob, parser) pairs, as syft's generic cataloger."""

    def __init__(self, name: str, version: int) -> None:
        self.name = name
        self.version = version
        self._parsers: list[tuple[str, Parser]] = []

    @property
    def globs(self) -> tuple[str, ...]:
        """Every glob a parser is attached to."""
        return tuple(g for g, _ in self._parsers)

    def parse(self, glob: str, parser: Parser) -> GlobCataloger:
        """Attach `parser` to files matching `glob`; returns self for chaining."""
        self._parsers.append((glob, parser))
        return self

    def wants(self, path: str, size: int, mode: int) -> bool:
        """Glob catalogers read only what their globs name."""
        return False

    def catalog(self, files: LayerFiles, env: ParseEnv) -> CatalogResult:
        """Run each parser over its files; a parser error skips that file only."""
        packages: list[Package] = []
        skipped: list[Skipped] = []
        for glob, parser in self._parsers:
            for entry in files.glob(glob):
                if entry.data is None:
                    continue
                try:
                    packages.extend(parser(entry.path, entry.data, env))
                except (CatalogError, ValueError, KeyError, UnicodeError) as exc:
                    skipped.append(Skipped(entry.path, f"{type(exc).__name__}: {exc}"))
        return CatalogResult(tuple(packages), tuple(skipped))


CatalogerRegistry = Mapping[str, Cataloger]
